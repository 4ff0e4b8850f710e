package sp

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Handler answers one request: it appends the reply to dst and returns it.
// req is valid only during the call.
type Handler func(dst, req []byte) []byte

// ServerConfig shapes a Server.
type ServerConfig struct {
	Handler     Handler
	Concurrency int          // requests handled at once; zero: 64
	MaxRecvSize int          // larger requests close the connection; zero: 64 MiB
	Logger      *slog.Logger // zero: slog.Default()
}

// Server is the REP side: it reads requests from every connection, runs
// each on a worker goroutine and writes its reply, behind its backtrace, on
// the connection the request came from. A busy server stops reading, so the
// back-pressure reaches the REQ side through the socket.
//
// Workers start on demand, up to Concurrency, and wait for work on a LIFO
// stack: under steady load the same few goroutines stay hot, and the ones a
// burst started end after idleWorkerTime. A fixed pool of Concurrency
// goroutines cost every garbage collection a scan of all their stacks: with
// 1024 of them, a tenth of a busy worker's CPU (bench/README.md).
type Server struct {
	cfg ServerConfig
	log *slog.Logger

	slots   chan struct{} // one per request being handled
	idleMu  sync.Mutex
	idle    []*worker // parked workers, the most recently used last
	clock   atomic.Int64
	workers sync.WaitGroup
	idleMax time.Duration // idleWorkerTime and retireTick, read once
	tick    time.Duration

	mu        sync.Mutex
	conns     map[*conn]struct{}
	listeners []net.Listener
	stopping  bool
	stop      chan struct{}

	readers sync.WaitGroup // connection readers, accept and dial loops
	started sync.Once
	reaped  sync.Once    // the wait of Shutdown, done once for every caller
	drained sync.Once    // the drain notice, sent once
	reads   atomic.Int64 // requests read so far, for the drain's quiet period
}

// worker is a parked handler goroutine; jobs is closed to end it.
type worker struct {
	jobs     chan job
	idleFrom int64 // Server.clock when it parked
}

// idleWorkerTime is how long a worker waits for work before it ends;
// retireTick is how often the wait is checked. Variables for the tests.
var (
	idleWorkerTime = 10 * time.Second
	retireTick     = time.Second
)

type job struct {
	cn  *conn
	buf *[]byte // pooled; backtrace then body
	hdr int     // backtrace length
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// NewServer returns a server that serves once Listen or Dial is called.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.MaxRecvSize <= 0 {
		cfg.MaxRecvSize = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{
		cfg: cfg, log: cfg.Logger,
		slots: make(chan struct{}, cfg.Concurrency), idleMax: idleWorkerTime, tick: retireTick,
		conns: make(map[*conn]struct{}),
		stop:  make(chan struct{}),
	}
}

func (s *Server) startWorkers() {
	s.started.Do(func() {
		s.workers.Add(1)
		go s.retireIdle()
	})
}

// dispatch hands j to a parked worker, or to a new one, once a slot is
// free. Only connection readers call it, and never after Shutdown has
// waited for them.
func (s *Server) dispatch(j job) {
	s.slots <- struct{}{}
	s.idleMu.Lock()
	if n := len(s.idle); n > 0 {
		w := s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
		s.idleMu.Unlock()
		w.jobs <- j
		return
	}
	s.idleMu.Unlock()
	s.workers.Add(1)
	go s.work(&worker{jobs: make(chan job, 1)}, j)
}

// work handles j, then every job given to w, until w's jobs are closed.
func (s *Server) work(w *worker, j job) {
	defer s.workers.Done()
	reply := make([]byte, 0, 4096)
	for {
		buf := *j.buf
		// A request read before Shutdown or Close that reaches a worker only
		// after is not handled, as mangos' REP leaves unhandled what no
		// context took before it closed: the REQ side sees it fail with the
		// connection, and no handler starts once Close has returned.
		if !s.isStopping() {
			reply = s.cfg.Handler(reply[:0], buf[j.hdr:])
			// A failed send closes the connection; its reader then ends,
			// and the REQ side learns of it.
			j.cn.send(buf[:j.hdr], reply)
		}
		if cap(buf) <= maxSpare {
			bufPool.Put(j.buf)
		}
		if cap(reply) > maxSpare {
			reply = make([]byte, 0, 4096)
		}
		// Parked before the slot is given back, so that a dispatch that
		// got the slot finds a worker.
		s.idleMu.Lock()
		w.idleFrom = s.clock.Load()
		s.idle = append(s.idle, w)
		s.idleMu.Unlock()
		<-s.slots
		var ok bool
		if j, ok = <-w.jobs; !ok {
			return
		}
	}
}

// retireIdle ends the workers that have waited longer than idleWorkerTime
// (the oldest are at the bottom of the stack), until the server stops;
// Shutdown ends the rest.
func (s *Server) retireIdle() {
	defer s.workers.Done()
	tick := s.tick
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		now := s.clock.Add(int64(tick))
		s.idleMu.Lock()
		n := 0
		for n < len(s.idle) && now-s.idle[n].idleFrom > int64(s.idleMax) {
			close(s.idle[n].jobs)
			n++
		}
		if n > 0 {
			s.idle = append(s.idle[:0], s.idle[n:]...)
			clear(s.idle[len(s.idle) : len(s.idle)+n])
		}
		s.idleMu.Unlock()
	}
}

// Listen binds url and serves every REQ peer that connects.
func (s *Server) Listen(url string) error {
	a, err := addrOf(url)
	if err != nil {
		return err
	}
	ln, err := listen(a)
	if err != nil {
		return fmt.Errorf("sp: listen %s: %w", url, err)
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.listeners = append(s.listeners, ln)
	s.readers.Add(1)
	s.mu.Unlock()
	s.startWorkers()
	go s.acceptLoop(ln, a.IPC)
	return nil
}

// Dial connects to a REQ peer that listens at url, and redials it whenever
// the connection drops, until Shutdown.
func (s *Server) Dial(url string) error {
	a, err := addrOf(url)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return ErrClosed
	}
	s.readers.Add(1)
	s.mu.Unlock()
	s.startWorkers()
	go s.dialLoop(a)
	return nil
}

func addrOf(url string) (Addr, error) {
	a, ok, err := ParseURL(url)
	if err == nil && !ok {
		err = fmt.Errorf("sp: %s: only tcp:// and ipc:// are served here", url)
	}
	return a, err
}

func (s *Server) acceptLoop(ln net.Listener, ipc bool) {
	defer s.readers.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isStopping() {
				return
			}
			s.log.Warn("accept failed", "err", err)
			time.Sleep(redialMin)
			continue
		}
		s.readers.Add(1)
		go func() {
			defer s.readers.Done()
			s.serveConn(nc, ipc)
		}()
	}
}

func (s *Server) dialLoop(a Addr) {
	defer s.readers.Done()
	wait := redialMin
	for !s.isStopping() {
		nc, err := net.DialTimeout(a.Network, a.Address, handshakeTimeout)
		if err == nil {
			wait = redialMin
			s.serveConn(nc, a.IPC)
		} else {
			wait = min(2*wait, redialMax)
		}
		t := time.NewTimer(wait)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (s *Server) isStopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// serveConn reads requests from one connection until it fails or the
// server stops reading.
func (s *Server) serveConn(nc net.Conn, ipc bool) {
	if err := handshake(nc, ProtoRep, ProtoReq); err != nil {
		nc.Close()
		s.log.Warn("handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	cn := newConn(nc, ipc, s.cfg.MaxRecvSize)
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[cn] = struct{}{}
	s.mu.Unlock()
	s.log.Info("gateway connected", "remote", nc.RemoteAddr().String())

	err := s.readRequests(cn)
	if !s.isStopping() {
		// A connection that fails on its own is done; one that Shutdown
		// stopped reading stays open until its replies are written.
		s.dropConn(cn)
		if !errors.Is(err, io.EOF) {
			s.log.Warn("gateway connection failed", "err", err)
		}
	}
}

func (s *Server) dropConn(cn *conn) {
	s.mu.Lock()
	delete(s.conns, cn)
	s.mu.Unlock()
	cn.close()
	<-cn.flushed
}

func (s *Server) readRequests(cn *conn) error {
	for {
		size, err := cn.fr.next()
		if err != nil {
			return err
		}
		bp := bufPool.Get().(*[]byte)
		buf := *bp
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		*bp = buf
		if _, err := io.ReadFull(cn.br, buf); err != nil {
			bufPool.Put(bp)
			return err
		}
		hdr, err := backtraceLen(buf)
		if err != nil {
			bufPool.Put(bp)
			return err
		}
		s.reads.Add(1)
		s.dispatch(job{cn: cn, buf: bp, hdr: hdr})
	}
}

// maxHops bounds the backtrace, as nanomsg's REP does (its default TTL is 8).
const maxHops = 8

// backtraceLen finds the end of the backtrace: the first word with the high
// bit set is the originating REQ's request id.
func backtraceLen(msg []byte) (int, error) {
	for n := 0; n < maxHops*4; n += 4 {
		if n+4 > len(msg) {
			return 0, errShortPayload
		}
		if msg[n]&0x80 != 0 {
			return n + 4, nil
		}
	}
	return 0, ErrBadFrame
}

// Shutdown stops taking requests, lets the handlers finish and their
// replies be written, then closes every connection. Requests that the
// gateway sent but no handler had taken are lost with the connection, and
// the gateway answers them 502. After Close it only waits for the handlers
// (their replies are dropped) and ends the workers. Every call returns once
// that is done.
func (s *Server) Shutdown() {
	s.drained.Do(s.announceDrain)
	s.stopTaking(false)
	s.reaped.Do(s.reap)
}

// Drain timing: the quiet period ends the drain once no request has
// arrived for it; the cap bounds it under a gateway that does not know the
// notice (mod_nano's, a stock REQ) and keeps sending.
var (
	drainQuiet = 100 * time.Millisecond
	drainMax   = 2 * time.Second
)

// announceDrain tells every connected gateway that this server is going
// away (the drain notice, wire.go), then goes on serving until no request
// has arrived for drainQuiet: a request the gateway sent before the notice
// reached it is served, not lost with the connection. nanogate's client
// stops sending on a connection that gave the notice; other REQ peers
// discard it as a reply to no request of theirs.
func (s *Server) announceDrain() {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return
	}
	conns := make([]*conn, 0, len(s.conns))
	for cn := range s.conns {
		conns = append(conns, cn)
	}
	s.mu.Unlock()
	if len(conns) == 0 {
		return
	}
	for _, cn := range conns {
		cn.send(drainHeader[:], drainBody)
	}
	deadline := time.Now().Add(drainMax)
	tick := drainQuiet / 4
	last, quiet := s.reads.Load(), time.Duration(0)
	for quiet < drainQuiet && time.Now().Before(deadline) {
		time.Sleep(tick)
		if n := s.reads.Load(); n != last {
			last, quiet = n, 0
		} else {
			quiet += tick
		}
	}
}

// Close stops taking requests and closes every listener and connection at
// once, without waiting for the handlers: their replies are dropped, and
// the REQ side sees those requests fail. Shutdown, called after, waits for
// the handlers and ends the server's goroutines.
func (s *Server) Close() {
	s.stopTaking(true)
}

// stopTaking stops the accept and dial loops and the connection readers.
// Shutdown leaves the connections open for the replies still to come
// (a read deadline stops their readers); Close closes them.
func (s *Server) stopTaking(closeConns bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopping {
		s.stopping = true
		close(s.stop)
		for _, ln := range s.listeners {
			ln.Close()
		}
	}
	for cn := range s.conns {
		if closeConns {
			cn.close()
		} else {
			cn.nc.SetReadDeadline(time.Now()) // readers stop; writes go on
		}
	}
}

// reap waits for the readers and the handlers, ends the workers, and
// drains the connections. conns no longer changes once the readers have
// ended (serveConn adds none while stopping, and only a reader drops one),
// and is kept so that a Close during the drain cuts it short.
func (s *Server) reap() {
	s.readers.Wait()
	// Every slot taken: every handler has returned and parked.
	for range cap(s.slots) {
		s.slots <- struct{}{}
	}
	s.idleMu.Lock()
	for _, w := range s.idle {
		close(w.jobs)
	}
	s.idle = nil
	s.idleMu.Unlock()
	s.workers.Wait()
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for cn := range s.conns {
		conns = append(conns, cn)
	}
	s.mu.Unlock()
	for _, cn := range conns {
		cn.drain() // the last replies are written before the close
	}
}
