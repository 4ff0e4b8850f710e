package sp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanogate/nanogate/internal/pieces"
)

// Protocol numbers of the pipeline pattern (nanomsg's PUSH and PULL, which
// nanomsg calls PUSH/PULL and NNG push0/pull0). A pipeline message carries
// no header: the payload is the body.
const (
	ProtoPush uint16 = 0x50
	ProtoPull uint16 = 0x51
)

// LinkConfig names one address of a pipeline socket.
type LinkConfig struct {
	URL         string       // tcp://host:port or ipc:///path
	Listen      bool         // bind and accept peers; zero: dial one peer and keep redialling it
	MaxRecvSize int          // Pull: larger messages close the connection; zero: 64 MiB
	Logger      *slog.Logger // zero: slog.Default()
	PeerName    string       // what the peer is, in log messages ("gateway"); zero: "worker"
}

func (c LinkConfig) peerName() string {
	if c.PeerName == "" {
		return "worker"
	}
	return c.PeerName
}

// linker dials (and redials) or accepts the connections of one address,
// handshakes, and runs serve on each until it fails or the linker closes.
type linker struct {
	cfg        LinkConfig
	addr       Addr
	self, peer uint16
	serve      func(*conn)
	ln         net.Listener
	stop       chan struct{}
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      map[*conn]struct{}
}

func newLinker(cfg LinkConfig, self, peer uint16, serve func(*conn)) (*linker, error) {
	a, err := addrOf(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.MaxRecvSize <= 0 {
		cfg.MaxRecvSize = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &linker{cfg: cfg, addr: a, self: self, peer: peer, serve: serve,
		stop: make(chan struct{}), conns: make(map[*conn]struct{})}
	if cfg.Listen {
		if l.ln, err = listen(a); err != nil {
			return nil, fmt.Errorf("sp: listen %s: %w", cfg.URL, err)
		}
	}
	return l, nil
}

// start begins accepting or dialling; the owner of serve is set up by now.
func (l *linker) start() {
	l.wg.Add(1)
	if l.ln != nil {
		go l.acceptLoop()
	} else {
		go l.dialLoop()
	}
}

func (l *linker) dialLoop() {
	defer l.wg.Done()
	wait := redialMin
	for {
		nc, err := net.DialTimeout(l.addr.Network, l.addr.Address, handshakeTimeout)
		if err == nil {
			wait = redialMin
			l.run(nc)
		}
		t := time.NewTimer(wait)
		select {
		case <-l.stop:
			t.Stop()
			return
		case <-t.C:
		}
		if err != nil {
			wait = min(2*wait, redialMax)
		}
	}
}

func (l *linker) acceptLoop() {
	defer l.wg.Done()
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			select {
			case <-l.stop:
				return
			default:
			}
			l.cfg.Logger.Warn("accept failed", "url", l.cfg.URL, "err", err)
			time.Sleep(redialMin)
			continue
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.run(nc)
		}()
	}
}

// run handshakes nc and serves it; the connection is closed when serve
// returns.
func (l *linker) run(nc net.Conn) {
	if err := handshake(nc, l.self, l.peer); err != nil {
		nc.Close()
		l.cfg.Logger.Warn("handshake failed", "url", l.cfg.URL, "err", err)
		return
	}
	cn := newConn(nc, l.addr.IPC, l.cfg.MaxRecvSize)
	l.mu.Lock()
	select {
	case <-l.stop:
		l.mu.Unlock()
		cn.close()
		<-cn.flushed
		return
	default:
	}
	l.conns[cn] = struct{}{}
	l.mu.Unlock()
	l.serve(cn)
	l.mu.Lock()
	delete(l.conns, cn)
	l.mu.Unlock()
	cn.close()
	<-cn.flushed
}

// close stops dialling or accepting, closes every connection and waits for
// the goroutines.
func (l *linker) close() {
	l.mu.Lock()
	select {
	case <-l.stop:
		l.mu.Unlock()
		return
	default:
	}
	close(l.stop)
	if l.ln != nil {
		l.ln.Close()
	}
	for cn := range l.conns {
		cn.close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// Push is the sending end of a pipeline: it sends messages to PULL peers,
// and lets its caller choose the peer, so that every message of one session
// reaches the worker that took the session (a stock PUSH socket would
// round-robin them).
type Push struct {
	l     *linker
	log   *slog.Logger
	mu    sync.Mutex
	peers atomic.Pointer[[]*Peer] // copy on write: Pick reads without a lock
	next  atomic.Uint32
}

// Peer is one connected PULL peer of a Push.
type Peer struct {
	c    *conn
	done chan struct{} // closed when the connection has ended
	load atomic.Int32  // sessions the caller pinned here
}

// NewPush starts dialling (or listening); peers connect in the background.
func NewPush(cfg LinkConfig) (*Push, error) {
	p := &Push{log: cfg.Logger}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.peers.Store(&[]*Peer{})
	l, err := newLinker(cfg, ProtoPush, ProtoPull, p.serve)
	if err != nil {
		return nil, err
	}
	p.l = l
	l.start()
	return p, nil
}

// serve lists the peer while its connection lives. A PULL peer sends
// nothing, so the read only waits for the connection to end.
func (p *Push) serve(cn *conn) {
	peer := &Peer{c: cn, done: make(chan struct{})}
	p.mu.Lock()
	list := append(slices.Clone(*p.peers.Load()), peer)
	p.peers.Store(&list)
	p.mu.Unlock()
	p.log.Info(p.l.cfg.peerName()+" connected", "url", p.l.cfg.URL, "remote", cn.nc.RemoteAddr().String(), "peers", len(list))

	_, err := cn.br.Discard(1)
	cn.close()
	p.mu.Lock()
	// A new slice and a new variable: Pick may still read the old list.
	rest := slices.DeleteFunc(slices.Clone(*p.peers.Load()), func(x *Peer) bool { return x == peer })
	p.peers.Store(&rest)
	p.mu.Unlock()
	close(peer.done)
	if err == nil {
		err = ErrBadFrame // a PULL peer must not send
	}
	select {
	case <-p.l.stop:
	default:
		p.log.Warn(p.l.cfg.peerName()+" disconnected", "url", p.l.cfg.URL, "err", err, "peers", len(rest))
	}
}

// Pick returns the connected peer with the fewest pinned sessions, or nil.
func (p *Push) Pick() *Peer { return p.PickExcept(nil) }

// PickExcept is Pick that never returns skip.
func (p *Push) PickExcept(skip *Peer) *Peer {
	list := *p.peers.Load()
	var best *Peer
	start := int(p.next.Add(1))
	for i := range list {
		pe := list[(start+i)%len(list)]
		if pe == skip {
			continue
		}
		if best == nil || pe.load.Load() < best.load.Load() {
			best = pe
		}
	}
	return best
}

// Peers is the number of connected peers.
func (p *Push) Peers() int { return len(*p.peers.Load()) }

// Load is the number of sessions pinned over every peer.
func (p *Push) Load() int {
	n := 0
	for _, pe := range *p.peers.Load() {
		n += int(pe.load.Load())
	}
	return n
}

// Wait returns a peer as Pick does, waiting for one to connect until ctx
// is done.
func (p *Push) Wait(ctx context.Context) (*Peer, error) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if pe := p.Pick(); pe != nil {
			return pe, nil
		}
		select {
		case <-ctx.Done():
			return nil, ErrNoPeer
		case <-p.l.stop:
			return nil, ErrClosed
		case <-t.C:
		}
	}
}

// Close stops dialling or listening and closes every connection; what is
// still queued is dropped.
func (p *Push) Close() error {
	p.l.close()
	return nil
}

// Flush writes what is queued on every connection, then closes them and the
// Push: a one-shot sender (nanogate push) calls it before exiting.
func (p *Push) Flush() error {
	for _, pe := range *p.peers.Load() {
		pe.c.drain()
	}
	return p.Close()
}

// Send queues hdr and body as one message. It fails with ErrLost when the
// connection has ended, and the message was not sent.
func (pe *Peer) Send(hdr, body []byte) error {
	if err := pe.c.send(hdr, body); err != nil {
		return ErrLost
	}
	return nil
}

// ErrFull: TrySend found the connection's queue full; nothing was sent.
const ErrFull = Error("sp: peer's queue is full")

// TrySend is Send that never waits for room: it fails with ErrFull, having
// sent nothing, when the connection's queue is full. A reader that answers
// what it reads (a pong) uses it, so that it never stops reading because
// the answer's connection is slow.
func (pe *Peer) TrySend(hdr, body []byte) error {
	switch err := pe.c.trySend(hdr, body); err {
	case nil:
		return nil
	case errFull:
		return ErrFull
	default:
		return ErrLost
	}
}

// SendOwned is Send for a body in a buffer from package pieces, which it
// takes, sent or not: a large body is written from it, not copied.
func (pe *Peer) SendOwned(hdr []byte, body *[]byte) error {
	if err := pe.c.sendOwned(hdr, body); err != nil {
		return ErrLost
	}
	return nil
}

// Done is closed when the peer's connection has ended.
func (pe *Peer) Done() <-chan struct{} { return pe.done }

// Pin counts a session on the peer (delta 1) or releases it (-1), for Pick.
func (pe *Peer) Pin(delta int32) { pe.load.Add(delta) }

// Load is the number of sessions pinned on the peer.
func (pe *Peer) Load() int32 { return pe.load.Load() }

// Pull is the receiving end of a pipeline: it takes messages from every
// PUSH peer that connects (or from the one it dials) and hands each to a
// function, on the goroutine that reads that peer's connection.
type Pull struct {
	l      *linker
	handle func(msg *[]byte) (kept bool)
}

// NewPull starts listening (or dialling); handle gets each message in a
// buffer from package pieces. If handle keeps the buffer (it returns true),
// it is handle's to give back with pieces.Put; otherwise it is valid only
// during the call, and read into again. Keeping a large message's buffer
// saves its copy: a streamed download through the gateway spent 6% of its
// CPU copying each 64 KiB body out of the read buffer. handle may be
// called from several goroutines at once, one per connected peer; while it
// runs, that peer's connection is not read, so a slow handle pushes back on
// its sender.
func NewPull(cfg LinkConfig, handle func(msg *[]byte) (kept bool)) (*Pull, error) {
	p := &Pull{handle: handle}
	l, err := newLinker(cfg, ProtoPull, ProtoPush, p.serve)
	if err != nil {
		return nil, err
	}
	p.l = l
	l.start()
	return p, nil
}

// Borrowing adapts a handler that never keeps a message (it copies what it
// needs during the call) to NewPull.
func Borrowing(handle func(msg []byte)) func(msg *[]byte) bool {
	return func(msg *[]byte) bool {
		handle(*msg)
		return false
	}
}

// maxKept bounds the read buffer kept between messages.
const maxKept = 1 << 20

func (p *Pull) serve(cn *conn) {
	var bp *[]byte
	for {
		size, err := cn.nextMessage()
		if err == nil {
			if bp == nil || cap(*bp) < size {
				pieces.Put(bp)
				bp = pieces.Get(size)
			}
			*bp = (*bp)[:size]
			err = cn.readBody(*bp)
		}
		if err != nil {
			pieces.Put(bp)
			select {
			case <-p.l.stop:
			default:
				if !errors.Is(err, io.EOF) {
					p.l.cfg.Logger.Warn("pull connection failed", "url", p.l.cfg.URL, "err", err)
				}
			}
			return
		}
		if p.handle(bp) || cap(*bp) > maxKept {
			bp = nil
		}
	}
}

// Close stops listening or dialling, closes every connection and waits for
// the readers, so that handle is not called after Close returns.
func (p *Pull) Close() error {
	p.l.close()
	return nil
}
