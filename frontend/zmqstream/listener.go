package zmqstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanogate/nanogate/internal/zmq"
)

// Config shapes a Listener. Every zero value is usable.
type Config struct {
	// Addr is the TCP address to bind, host:port.
	Addr string
	// MaxInbound bounds the bytes received for one connection and not yet
	// read by the server. ZMQ_STREAM cannot stop reading one peer, so a
	// connection past it is cut (counted as Overflow). Give it at least
	// the largest request (head and body) the server takes, so that a
	// client uploading faster than the server reads is not cut. Zero: 1 MiB.
	MaxInbound int
	// MaxInboundTotal bounds the same bytes over all connections; a
	// connection whose bytes would pass it is cut. Zero: 256 MiB.
	MaxInboundTotal int64
	// MaxOutbound bounds the bytes written to one connection and not yet
	// handed to libzmq; Write waits past it, up to its deadline. Zero: 256 KiB.
	MaxOutbound int
	// SndHWM bounds the messages libzmq holds for one peer that reads
	// slowly; each is at most writeChunk bytes. Zero: 64.
	SndHWM int
	// Backlog bounds the connections libzmq accepted that Accept has not
	// yet returned; past it new ones are closed (counted as Refused).
	// Zero: 1024.
	Backlog int
	// Linger is how long stopping waits for libzmq to write what it
	// holds. Zero: 1s.
	Linger time.Duration
	// LingerCloseTime and LingerCloseBytes bound a lingering close
	// (conn.LingerOnClose): what a refused upload may still send, and for
	// how long, before the connection closes. Zero: 2s and 4 MiB, as the
	// TCP front end's.
	LingerCloseTime  time.Duration
	LingerCloseBytes int
	// Logger: zero, slog.Default().
	Logger *slog.Logger
}

// Stats are a Listener's counters since it was made.
type Stats struct {
	Accepted uint64 // connections handed to Accept
	Refused  uint64 // closed at once: the backlog was full, or the listener closed
	Overflow uint64 // cut: more than MaxInbound unread
	Stray    uint64 // data for a connection already closed here (dropped)
	Again    uint64 // sends libzmq refused at SndHWM, retried later
	Lost     uint64 // connections whose send failed otherwise (the peer was gone)
	Open     int    // connections libzmq holds now
	Inbound  int64  // bytes received and not yet read, over all connections
}

// Listener is a net.Listener over a ZMQ_STREAM socket: one goroutine (its
// zmq.Loop's) owns the socket and every connection's traffic; Accept hands
// out one net.Conn per peer identity.
type Listener struct {
	loop  *zmq.Loop
	sock  *zmq.Socket
	addr  *net.TCPAddr
	log   *slog.Logger
	cfg   Config
	run   chan error // Run's result
	queue chan *conn // accepted by libzmq, not yet by Accept

	closing   chan struct{} // closed by Close: Accept fails, new peers are refused
	closeOnce sync.Once
	stopOnce  sync.Once

	conns  map[string]*conn // by identity; the loop goroutine's only
	closed closedIDs        // identities closed here lately; the loop goroutine's

	open, inTotal                                           atomic.Int64 // inTotal: bytes delivered, not yet read
	accepted, refused, overflow, stray, again, lost, logged atomic.Uint64
	lastLog                                                 atomic.Int64 // UnixNano of the last rate-limited log line
}

// Listen binds cfg.Addr with a ZMQ_STREAM socket and starts its loop.
func Listen(cfg Config) (*Listener, error) {
	cfg.MaxInbound = orDefault(cfg.MaxInbound, 1<<20)
	cfg.MaxInboundTotal = orDefault(cfg.MaxInboundTotal, 256<<20)
	cfg.MaxOutbound = orDefault(cfg.MaxOutbound, 256<<10)
	cfg.SndHWM = orDefault(cfg.SndHWM, 64)
	cfg.Backlog = orDefault(cfg.Backlog, 1024)
	cfg.Linger = orDefault(cfg.Linger, time.Second)
	cfg.LingerCloseTime = orDefault(cfg.LingerCloseTime, 2*time.Second)
	cfg.LingerCloseBytes = orDefault(cfg.LingerCloseBytes, 4<<20)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ap, err := resolve(cfg.Addr)
	if err != nil {
		return nil, err
	}
	l := &Listener{
		log: cfg.Logger, cfg: cfg, run: make(chan error, 1),
		queue: make(chan *conn, cfg.Backlog), closing: make(chan struct{}),
		conns: make(map[string]*conn),
	}
	if l.loop, err = zmq.NewLoop("frontend", nil); err != nil {
		return nil, err
	}
	o := zmq.Options{SndHWM: cfg.SndHWM, Linger: int(cfg.Linger / time.Millisecond)}
	if l.sock, err = l.loop.StreamSocket(o, l.receive, l.known); err == nil {
		err = l.sock.Bind("tcp://" + ap.String())
	}
	if err != nil {
		l.loop.Close()
		return nil, err
	}
	// The port the system chose, if ap's was 0.
	bound, err := netip.ParseAddrPort(strings.TrimPrefix(l.sock.Endpoint(), "tcp://"))
	if err != nil {
		l.loop.Close()
		return nil, fmt.Errorf("zmq front end: bound endpoint %q: %w", l.sock.Endpoint(), err)
	}
	l.addr = net.TCPAddrFromAddrPort(bound)
	go func() { l.run <- l.loop.Run() }()
	return l, nil
}

// resolve turns host:port into the numeric address libzmq binds (it
// resolves names too, but an empty host, ":8080", means every interface
// to net.Listen and nothing to libzmq).
func resolve(addr string) (netip.AddrPort, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("zmq front end: listen address %q: %w", addr, err)
	}
	ap := ta.AddrPort()
	if !ap.Addr().IsValid() {
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
	}
	return ap, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Accept returns the next connection; net.ErrClosed once Close was called.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.queue:
		return c, nil
	case <-l.closing:
		return nil, net.ErrClosed
	case err := <-l.run:
		l.run <- err
		return nil, fmt.Errorf("zmq front end stopped: %v", err)
	}
}

// Addr is the bound TCP address.
func (l *Listener) Addr() net.Addr { return l.addr }

// Close stops accepting: a peer that connects from now on is closed at
// once. Connections already accepted live on (a TCP listener's Close
// leaves them too); Stop ends them. libzmq cannot stop listening without
// closing every connection the listener accepted (zmq_unbind terminates
// them with it), so the socket stays bound until Stop.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closing)
		for {
			select {
			case c := <-l.queue: // accepted by libzmq, never served
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

// Stop closes the listener and then the socket, after the writes and
// closes already queued are handed to libzmq; libzmq then writes what it
// holds for up to Config.Linger. Call it once the server is shut down.
func (l *Listener) Stop() error {
	l.Close()
	var err error
	l.stopOnce.Do(func() {
		barrier := make(chan struct{})
		if l.loop.Do(func() { close(barrier) }) == nil {
			select {
			case <-barrier:
			case <-time.After(l.cfg.Linger):
			}
		}
		l.loop.Close()
		err = <-l.run
		l.run <- err
		st := l.Stats()
		l.log.Info("zmq front end stopped", "accepted", st.Accepted, "refused", st.Refused, "overflow", st.Overflow,
			"stray", st.Stray, "again", st.Again, "lost", st.Lost)
	})
	return err
}

// Stats returns the listener's counters.
func (l *Listener) Stats() Stats {
	return Stats{Accepted: l.accepted.Load(), Refused: l.refused.Load(), Overflow: l.overflow.Load(),
		Stray: l.stray.Load(), Again: l.again.Load(), Lost: l.lost.Load(), Open: int(l.open.Load()),
		Inbound: l.inTotal.Load()}
}

// receive handles one message of the socket, on the loop's goroutine:
// [id, ""] (connect or disconnect), [id, "", ip] from zmq.StreamSocket, or
// [id, bytes].
func (l *Listener) receive(parts [][]byte) {
	if len(parts) < 2 {
		return // zmq.StreamSocket delivers two or three parts
	}
	id, data := parts[0], parts[1]
	c := l.conns[string(id)]
	switch {
	case len(data) == 0 && c != nil: // the peer disconnected
		l.forget(c, false)
		c.peerGone()
	case len(data) == 0 && l.closed.has(id):
		l.stray.Add(1) // the late disconnect of a connection closed here
	case len(data) == 0:
		var peer []byte
		if len(parts) > 2 {
			peer = parts[2]
		}
		l.connected(id, peer)
	case c == nil:
		l.stray.Add(1) // closed here, its last bytes still on their way
	case !c.deliver(data):
		l.overflow.Add(1)
		l.logf("connection cut: too many bytes received and not yet read", "client", c.remote.String(),
			"max_inbound", l.cfg.MaxInbound, "max_inbound_total", l.cfg.MaxInboundTotal)
		l.forget(c, true)
		c.cut()
		l.sock.SendNow(id, nil)
	}
}

// closedIDs remembers the last closedMemory identities closed here. An
// [id, ""] for one of them is not a connect: it is the disconnect libzmq
// queued while the client was closing too, before it took our close.
// Taken for a connect, it would make a connection that nobody serves, to
// wait for its read timeout. (libzmq numbers its peers in order, but
// delivers their notifications fair-queued, so order cannot tell.)
type closedIDs struct {
	set  map[string]struct{}
	ring [closedMemory]string
	next int
}

// closedMemory covers the time a late notification takes (it is queued
// before our close is taken) at tens of thousands of closes a second.
const closedMemory = 4096

func (s *closedIDs) add(id []byte) {
	if s.set == nil {
		s.set = make(map[string]struct{}, closedMemory)
	}
	delete(s.set, s.ring[s.next])
	k := string(id)
	s.ring[s.next], s.set[k] = k, struct{}{}
	s.next = (s.next + 1) % closedMemory
}

func (s *closedIDs) has(id []byte) bool {
	_, ok := s.set[string(id)]
	return ok
}

// known reports whether id is a connection of the map; the loop goroutine's.
func (l *Listener) known(id []byte) bool {
	_, ok := l.conns[string(id)]
	return ok
}

// connected takes a new peer, or closes it when nobody will serve it.
func (l *Listener) connected(id, peer []byte) {
	l.open.Add(1)
	c := newConn(l, id, peer)
	select {
	case <-l.closing:
	default:
		select {
		case l.queue <- c:
			l.conns[string(id)] = c
			l.accepted.Add(1)
			return
		default:
			l.logf("connection refused: accept backlog full", "backlog", l.cfg.Backlog)
		}
	}
	l.refused.Add(1)
	l.open.Add(-1)
	l.closed.add(id)
	l.sock.SendNow(id, nil)
}

// forget drops c from the identity map: libzmq no longer holds its peer,
// or will not once the close queued now is written (closedHere: a late
// disconnect notification may follow).
func (l *Listener) forget(c *conn, closedHere bool) {
	if l.conns[string(c.id)] == c {
		delete(l.conns, string(c.id))
		l.open.Add(-1)
		if closedHere {
			l.closed.add(c.id)
		}
	}
}

// logf logs a warning at most once a second; a flood of cut connections
// must not become a flood of log lines (they are counted in Stats).
func (l *Listener) logf(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(time.Second) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn("zmq front end: "+msg, args...)
}

// errStopped: the front end's loop has stopped.
var errStopped = errors.New("zmq front end stopped")
