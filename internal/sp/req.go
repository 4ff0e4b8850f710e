package sp

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of Client.RoundTrip.
const (
	ErrNoPeer  = Error("sp: no peer connected")
	ErrBusy    = Error("sp: every slot in use")
	ErrTimeout = Error("sp: no reply before the deadline")
	ErrLost    = Error("sp: connection lost with the request in flight")
	// ErrReplyTooLarge: the reply was over MaxRecvSize. It was read past
	// and dropped, and the connection goes on serving the other requests.
	ErrReplyTooLarge = Error("sp: reply over the size limit")
)

// maxFrame bounds a frame at the wire level on the REQ side: past it the
// peer is broken or hostile, not merely verbose, and the connection is
// closed. Replies between MaxRecvSize and this are skipped one by one.
const maxFrame = 1 << 40

// ClientConfig shapes a Client. Zero values are usable except URL.
type ClientConfig struct {
	URL         string        // tcp://host:port or ipc:///path
	Listen      bool          // bind and accept peers; zero: dial one peer and keep redialling it
	Slots       int           // requests in flight; zero: 64; at most 32768
	Timeout     time.Duration // per request, to within a twentieth (at most 50ms) either way; zero: 30s
	MaxRecvSize int           // a larger reply fails its own request (ErrReplyTooLarge), read past; zero: 64 MiB
	Logger      *slog.Logger  // zero: slog.Default()
}

// Client is the REQ side: it sends requests to REP peers over one or more
// connections and matches replies to requests by id, many in flight at once.
type Client struct {
	cfg   ClientConfig
	log   *slog.Logger
	slots []slot
	free  chan *slot

	connsMu sync.Mutex
	conns   atomic.Pointer[[]*conn] // copy on write: RoundTrip reads without a lock

	l    *linker        // dials or accepts the connections
	stop chan struct{}  // closed by Close
	wg   sync.WaitGroup // the sweeper

	// now is the sweeper's clock (UnixNano at its last tick): requests
	// take their deadline from it instead of reading the time each.
	now atomic.Int64

	lastDead atomic.Pointer[conn] // the connection a send last found failed, skipped on the retry
}

// A slot is one request in flight. Its state word holds the request id and
// the phase together, so that a compare-and-swap on it cannot be fooled by
// the slot's reuse for a later request (the id carries a generation).
type slot struct {
	word     atomic.Uint64 // id<<2 | phase
	conn     atomic.Pointer[conn]
	index    uint32
	gen      uint32
	hdr      [4]byte
	deadline atomic.Int64 // UnixNano; read by the sweeper once word says waiting
	dst      []byte
	err      error
	done     chan struct{}
}

const (
	phaseIdle    = 0
	phaseWaiting = 1 // sent, the reply may arrive
	phaseFilling = 2 // a reply or a failure is being delivered
)

func word(id uint32, phase uint64) uint64 { return uint64(id)<<2 | phase }

const maxSlots = 1 << 15

// NewClient starts dialling (or listening); peers connect in the background.
func NewClient(cfg ClientConfig) (*Client, error) {
	if _, err := addrOf(cfg.URL); err != nil {
		return nil, err
	}
	if cfg.Slots <= 0 {
		cfg.Slots = 64
	}
	if cfg.Slots > maxSlots {
		return nil, fmt.Errorf("sp: %d slots, at most %d", cfg.Slots, maxSlots)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxRecvSize <= 0 {
		cfg.MaxRecvSize = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Client{
		cfg:   cfg,
		log:   cfg.Logger,
		slots: make([]slot, cfg.Slots),
		free:  make(chan *slot, cfg.Slots),
		stop:  make(chan struct{}),
	}
	c.conns.Store(&[]*conn{})
	c.now.Store(time.Now().UnixNano())
	for i := range c.slots {
		s := &c.slots[i]
		s.index = uint32(i)
		s.done = make(chan struct{}, 1)
		c.free <- s
	}
	// Bound (in listen mode) before any goroutine starts, so that a listen
	// error leaves nothing running.
	l, err := newLinker(LinkConfig{URL: cfg.URL, Listen: cfg.Listen, MaxRecvSize: maxFrame, Logger: cfg.Logger},
		ProtoReq, ProtoRep, c.serve)
	if err != nil {
		return nil, err
	}
	c.l = l
	c.wg.Add(1)
	go c.sweep()
	l.start()
	return c, nil
}

// RoundTrip sends msg and appends the reply's body to dst. A request that
// could not leave on the chosen connection (it had just failed) goes on
// another one of this client: nothing was sent, so nothing runs twice.
func (c *Client) RoundTrip(dst, msg []byte) ([]byte, error) {
	var dead *conn
	for range 3 {
		reply, err := c.roundTrip(dst, msg, dead)
		if err != errNotSent {
			return reply, err
		}
		dead = c.lastDead.Load()
	}
	return dst, ErrNoPeer
}

// errNotSent: the connection had failed before the request was queued.
const errNotSent = Error("sp: connection failed before the send")

func (c *Client) roundTrip(dst, msg []byte, skip *conn) ([]byte, error) {
	cn := c.pick(skip)
	if cn == nil {
		return dst, ErrNoPeer
	}
	var s *slot
	select {
	case s = <-c.free:
	default:
		return dst, ErrBusy
	}
	s.gen = (s.gen + 1) & 0x7fff
	id := 1<<31 | s.gen<<15 | s.index
	s.dst, s.err = dst, nil
	s.conn.Store(cn)
	cn.outstanding.Add(1)
	s.deadline.Store(c.now.Load() + int64(c.cfg.Timeout))
	s.word.Store(word(id, phaseWaiting))
	binary.BigEndian.PutUint32(s.hdr[:], id)

	if err := cn.send(s.hdr[:], msg); err != nil {
		if s.word.CompareAndSwap(word(id, phaseWaiting), 0) {
			s.err = ErrLost
			if err == errDead {
				s.err = errNotSent // nothing left this process: another connection may take it
				c.lastDead.Store(cn)
			}
		} else {
			<-s.done // the reader or the failure scan took it first
		}
	} else {
		<-s.done // a reply, a lost connection or the sweeper's timeout
	}
	reply, err := s.dst, s.err
	if err != nil {
		reply = dst
	}
	s.word.Store(0)
	s.dst = nil
	s.conn.Store(nil)
	cn.outstanding.Add(-1)
	c.free <- s
	return reply, err
}

// pick returns the connection with the fewest requests in flight, among
// those whose worker is not draining, never skip.
func (c *Client) pick(skip *conn) *conn {
	var best *conn
	for _, cn := range *c.conns.Load() {
		if cn == skip || cn.peerDraining.Load() {
			continue
		}
		if best == nil || cn.outstanding.Load() < best.outstanding.Load() {
			best = cn
		}
	}
	return best
}

// Peers is the number of connected peers that take requests: one that gave
// the drain notice is still connected, finishing its requests, but no
// longer counts.
func (c *Client) Peers() int {
	n := 0
	for _, cn := range *c.conns.Load() {
		if !cn.peerDraining.Load() {
			n++
		}
	}
	return n
}

// InFlight is the number of requests in flight.
func (c *Client) InFlight() int { return cap(c.free) - len(c.free) }

// Slots is the in-flight limit.
func (c *Client) Slots() int { return cap(c.free) }

// readReplies delivers every reply on cn to its slot until cn fails.
func (c *Client) readReplies(cn *conn) error {
	var idb [4]byte
	for {
		size, err := cn.fr.next()
		if err != nil {
			return err
		}
		if size < 4 {
			return ErrBadFrame
		}
		if _, err := io.ReadFull(cn.br, idb[:]); err != nil {
			return err
		}
		id := binary.BigEndian.Uint32(idb[:])
		n := size - 4
		if id == drainID {
			// The worker is going away: no new request goes here; the
			// ones in flight finish, then it closes the connection.
			if !cn.peerDraining.Swap(true) {
				c.log.Info("worker draining", "remote", cn.nc.RemoteAddr().String())
			}
			if _, err := cn.br.Discard(n); err != nil {
				return err
			}
			continue
		}
		s := c.slotFor(id)
		if s == nil || !s.word.CompareAndSwap(word(id, phaseWaiting), word(id, phaseFilling)) {
			// A late reply to a request that timed out, or a stranger's.
			if _, err := cn.br.Discard(n); err != nil {
				return err
			}
			continue
		}
		if n > c.cfg.MaxRecvSize {
			// The length prefix says how much to skip: this request
			// fails, the others on the connection do not.
			s.err = ErrReplyTooLarge
			s.done <- struct{}{}
			if _, err := cn.br.Discard(n); err != nil {
				return err
			}
			continue
		}
		start := len(s.dst)
		s.dst = slices.Grow(s.dst, n)[:start+n]
		if _, err := io.ReadFull(cn.br, s.dst[start:]); err != nil {
			s.err = ErrLost
			s.done <- struct{}{}
			return err
		}
		s.done <- struct{}{}
	}
}

// sweep times requests out. One goroutine scanning the slots a few times
// per timeout replaces a timer armed and stopped for every request, which
// showed in the gateway's profile (timer heap locks, select). A request's
// deadline counts from the last tick, and is seen at most a tick late: the
// timeout holds to within a tick either way.
func (c *Client) sweep() {
	defer c.wg.Done()
	tick := min(max(c.cfg.Timeout/20, time.Millisecond), 50*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.now.Store(now.UnixNano())
			c.expire(now.UnixNano())
		}
	}
}

func (c *Client) expire(now int64) {
	for i := range c.slots {
		s := &c.slots[i]
		w := s.word.Load()
		if w&3 != phaseWaiting || s.deadline.Load() > now {
			continue
		}
		if s.word.CompareAndSwap(w, w&^3|phaseFilling) {
			s.err = ErrTimeout
			s.done <- struct{}{}
		}
	}
}

func (c *Client) slotFor(id uint32) *slot {
	i := id & 0x7fff
	if id&(1<<31) == 0 || int(i) >= len(c.slots) {
		return nil
	}
	return &c.slots[i]
}

// serve runs one handshaken connection until it fails, then fails the
// requests still waiting on it: with no resending, they are lost.
func (c *Client) serve(cn *conn) {
	c.add(cn)
	select {
	case <-c.stop:
		cn.close() // Close ran before this connection was listed
	default:
	}
	c.log.Info("worker connected", "remote", cn.nc.RemoteAddr().String(), "workers", c.Peers())
	err := c.readReplies(cn)
	cn.close()
	<-cn.flushed
	c.remove(cn)
	for i := range c.slots {
		s := &c.slots[i]
		w := s.word.Load()
		if w&3 == phaseWaiting && s.conn.Load() == cn && s.word.CompareAndSwap(w, w&^3|phaseFilling) {
			s.err = ErrLost
			s.done <- struct{}{}
		}
	}
	select {
	case <-c.stop:
	default:
		c.log.Warn("worker disconnected", "err", err, "workers", c.Peers())
	}
}

func (c *Client) add(cn *conn) {
	c.connsMu.Lock()
	defer c.connsMu.Unlock()
	list := append(slices.Clone(*c.conns.Load()), cn)
	c.conns.Store(&list)
}

func (c *Client) remove(cn *conn) {
	c.connsMu.Lock()
	defer c.connsMu.Unlock()
	list := slices.DeleteFunc(slices.Clone(*c.conns.Load()), func(x *conn) bool { return x == cn })
	c.conns.Store(&list)
}

// Redial pacing: a restarted worker is found within a second; a missing one
// is not hammered.
const (
	redialMin = 50 * time.Millisecond
	redialMax = time.Second
)

// Close stops dialling or listening, closes every connection (requests in
// flight end with ErrLost) and waits for its goroutines.
func (c *Client) Close() error {
	select {
	case <-c.stop:
		return ErrClosed
	default:
	}
	close(c.stop)
	c.l.close() // the listener or dialler, and every connection
	c.wg.Wait()
	return nil
}
