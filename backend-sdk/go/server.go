package worker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanogate/nanogate/internal/sp"
	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol/rep"

	// ipc, tcp, inproc, ws, wss and tls+tcp: a worker serves whatever
	// endpoint URL its gateway is configured with.
	_ "go.nanomsg.org/mangos/v3/transport/all"
)

// ErrServerClosed is returned by Listen, Dial and Serve once Shutdown or
// Close has been called.
var ErrServerClosed = errors.New("worker: server closed")

const (
	defaultConcurrency = 64
	defaultMaxRecvSize = 64 << 20

	// recvSizeSlack: mangos counts the REQ protocol header (a 4-byte
	// request id, 4 more per device hop, at most 8 hops) against
	// OptionMaxRecvSize, while MaxRecvSize speaks of the request message.
	recvSizeSlack = 64

	// replyLinger is how long Shutdown waits after the last reply before
	// closing the socket. mangos v3 has no linger (OptionLinger is declared
	// but unused): REP's SendMsg returns once a pipe's sender goroutine has
	// taken the message, closing the socket closes the connection under a
	// write still in progress, and a REQ socket cancels the requests of a
	// pipe that closes even when their reply is already on its way. Without
	// this wait TestShutdownWaitsForInFlight lost about half of its replies,
	// over inproc, ipc and tcp alike.
	replyLinger = 250 * time.Millisecond
)

// epoch anchors lastReply to the monotonic clock.
var epoch = time.Now()

// Server serves an http.Handler over a mangos REP socket: each message is
// one HTTP request, each reply one HTTP response (the http format of
// nanogate's session package). The zero value is ready to use; set fields
// before the first Listen, Dial or Serve and do not change them afterwards.
type Server struct {
	// Handler answers the requests. Zero: http.DefaultServeMux.
	Handler http.Handler

	// Fast, when set, answers the requests instead of Handler, without
	// net/http and without allocating (FastHandler).
	Fast FastHandler

	// Concurrency is how many requests are served at once: one REP
	// context, and one goroutine, each. Further requests wait in the
	// gateway's connection (mangos does not queue them here).
	// Zero: 64.
	Concurrency int

	// MaxRecvSize is the largest request message accepted, in bytes. A
	// larger one makes mangos drop the connection it came on (the gateway
	// sees its request fail, or resend it if it resends). Zero: 64 MiB.
	// mangos' own default of 1 MiB is never used.
	MaxRecvSize int

	// Logger receives bad request messages, handler panics and connection
	// events. Zero: slog.Default().
	Logger *slog.Logger

	// TLSConfig is used by tls+tcp:// and wss:// endpoints: it needs a
	// certificate to Listen, and is the client configuration for Dial.
	// Zero: those endpoints cannot Listen, and Dial uses the system roots.
	TLSConfig *tls.Config

	mu      sync.Mutex
	sock    mangos.Socket // created by the first Listen or Dial of a mangos scheme
	fast    *sp.Server    // serves tcp:// and ipc://, created on first use
	serving bool
	closed  bool            // the socket is closed
	begun   chan struct{}   // closed when Shutdown or Close begins
	failed  chan struct{}   // closed when every loop ended on its own
	stopped chan struct{}   // closed with the socket
	loops   []*loop         // started with the socket, once serving
	base    context.Context // parent of every request's context
	cancel  context.CancelFunc

	stopping  atomic.Bool    // Shutdown or Close called: take no new request
	wg        sync.WaitGroup // the loops
	running   atomic.Int32   // loops not ended
	lastReply atomic.Int64   // time.Since(epoch) when the last reply was sent
}

// loop is one REP context and the goroutine that serves it.
type loop struct {
	ctx   mangos.Context
	state atomic.Int32
}

// Loop states. Shutdown closes idle contexts (blocked in RecvMsg, which only
// a close can wake) and waits for busy ones; the compare-and-swap on state
// decides a message that arrives while Shutdown runs.
const (
	loopIdle int32 = iota
	loopBusy
	loopClosed
)

// Listen binds url (ipc://, tcp://, tls+tcp://, ws://, wss://, inproc://)
// for gateways to dial. It may be called several times, before or while
// serving; requests that arrive before Serve wait for it.
func (s *Server) Listen(url string) error { return s.attach(url, false) }

// Dial connects to a gateway that listens on url. It returns once the
// dialer is set up: mangos connects in the background and reconnects with
// backoff whenever the connection drops, so a worker may start before its
// gateway. It may be called several times (one per gateway).
func (s *Server) Dial(url string) error { return s.attach(url, true) }

// attach binds or dials url: with package sp for tcp:// and ipc://, with
// the mangos socket for the other schemes.
func (s *Server) attach(url string, dial bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	verb := "listen"
	if dial {
		verb = "dial"
	}
	var err error
	if sp.Supported(url) {
		var fast *sp.Server
		if fast, err = s.fastLocked(); err != nil {
			return err
		}
		if dial {
			err = fast.Dial(url)
		} else {
			err = fast.Listen(url)
		}
	} else {
		var sock mangos.Socket
		if sock, err = s.socketLocked(); err != nil {
			return err
		}
		if s.serving && s.loops == nil {
			if err = s.startLoopsLocked(); err != nil {
				return fmt.Errorf("worker: %s %s: %w", verb, url, err)
			}
		}
		if dial {
			err = sock.DialOptions(url, s.options(url, true))
		} else {
			err = sock.ListenOptions(url, s.options(url, false))
		}
	}
	if err != nil {
		return fmt.Errorf("worker: %s %s: %w", verb, url, err)
	}
	return nil
}

// Serve serves requests until Shutdown or Close, and returns nil once
// every handler has returned and the socket is closed. It returns
// ErrServerClosed if the server was already stopped.
func (s *Server) Serve() error {
	if err := s.start(); err != nil {
		return err
	}
	select {
	case <-s.begun:
	case <-s.failed:
	}
	s.wg.Wait()
	if !s.stopping.Load() {
		// Every loop ended without a stop: mangos failed under us (it
		// returns no other receive error to a context without deadline).
		_ = s.Close()
		return errors.New("worker: every REP context failed")
	}
	<-s.stopped // Shutdown closes the socket after the last replies left
	return nil
}

// Shutdown stops taking requests, waits for the handlers in flight to
// return and their replies to be sent, then closes the socket. If ctx ends
// first, it cancels the requests' contexts, closes the socket as Close does
// and returns ctx.Err(). Requests that the gateway sent after Shutdown began
// are not served; with resending off (OptionRetryTime 0) the gateway sees
// them fail when the connection closes.
func (s *Server) Shutdown(ctx context.Context) error {
	for _, l := range s.beginStop() {
		if l.state.CompareAndSwap(loopIdle, loopClosed) {
			_ = l.ctx.Close()
		}
	}
	// This goroutine ends with the last handler, even after ctx expired.
	fast := s.fastServer()
	done := make(chan struct{})
	go func() {
		if fast != nil {
			fast.Shutdown() // its replies are written before it returns
		}
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		_ = s.Close()
		return ctx.Err()
	}
	if last := s.lastReply.Load(); last != 0 {
		if d := time.Duration(last) + replyLinger - time.Since(epoch); d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
	}
	return s.closeSocket()
}

// Close cancels the context of every request in flight and closes the
// socket at once: replies not yet sent are lost. Serve still waits for the
// handlers to return, so they should watch their request's context.
func (s *Server) Close() error {
	s.beginStop()
	s.cancel()
	if fast := s.fastServer(); fast != nil {
		fast.Shutdown() // handlers see their context cancelled
	}
	return s.closeSocket()
}

// ListenAndServe serves h on a socket bound to url until an error occurs.
func ListenAndServe(url string, h http.Handler) error {
	s := &Server{Handler: h}
	if err := s.Listen(url); err != nil {
		_ = s.Close()
		return err
	}
	return s.Serve()
}

// DialAndServe serves h to the gateway listening on url, reconnecting as
// needed, until an error occurs.
func DialAndServe(url string, h http.Handler) error {
	s := &Server{Handler: h}
	if err := s.Dial(url); err != nil {
		_ = s.Close()
		return err
	}
	return s.Serve()
}

// run is one loop: receive, handle, reply, until the server stops.
func (s *Server) run(l *loop) {
	defer func() {
		_ = l.ctx.Close() // Shutdown may have closed it already
		if s.running.Add(-1) == 0 && !s.stopping.Load() {
			close(s.failed)
		}
	}()
	for {
		l.state.Store(loopIdle)
		// Checked after going idle: Shutdown sets stopping before it looks
		// for idle loops, so either this sees stopping or Shutdown sees the
		// loop idle and closes its context.
		if s.stopping.Load() {
			return
		}
		m, err := l.ctx.RecvMsg()
		if err != nil {
			if !errors.Is(err, mangos.ErrClosed) {
				s.logger().Error("worker: receive failed", "err", err)
			}
			return
		}
		if !l.state.CompareAndSwap(loopIdle, loopBusy) {
			// Shutdown closed the context as this message arrived, and
			// mangos sends nothing on a closed context.
			m.Free()
			return
		}
		reply := s.serveMessage(s.base, m.Body)
		m.Free()
		// On success mangos owns the reply; it is also dropped, with a nil
		// error, when the gateway's connection has gone.
		if err := l.ctx.SendMsg(reply); err != nil {
			reply.Free()
			if errors.Is(err, mangos.ErrClosed) {
				return
			}
			s.logger().Warn("worker: send failed", "err", err)
			continue
		}
		s.lastReply.Store(int64(time.Since(epoch)))
	}
}

// start marks the server serving, and starts the REP loops if a mangos
// endpoint is attached already; a later one starts them (attach). The loops
// exist only for mangos: each parks a goroutine that every garbage
// collection scans, a tenth of a busy tcp:// worker's CPU when they were
// started for nothing.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.stopping.Load() {
		return ErrServerClosed
	}
	if s.serving {
		return errors.New("worker: Serve called twice")
	}
	s.serving = true
	if s.sock != nil {
		return s.startLoopsLocked()
	}
	return nil
}

// startLoopsLocked opens the REP contexts and starts their loops.
func (s *Server) startLoopsLocked() error {
	n := s.Concurrency
	if n <= 0 {
		n = defaultConcurrency
	}
	loops := make([]*loop, 0, n)
	for range n {
		c, err := s.sock.OpenContext()
		if err != nil {
			for _, l := range loops {
				_ = l.ctx.Close()
			}
			return fmt.Errorf("worker: open REP context: %w", err)
		}
		loops = append(loops, &loop{ctx: c})
	}
	s.loops = loops
	s.running.Add(int32(n))
	for _, l := range loops {
		s.wg.Go(func() { s.run(l) })
	}
	return nil
}

// fastLocked returns the sp server for tcp:// and ipc://, creating it on
// first use: it reads with few system calls and batches its writes, where
// mangos' transports make two or three reads per message.
func (s *Server) fastLocked() (*sp.Server, error) {
	s.initLocked()
	if s.stopping.Load() {
		return nil, ErrServerClosed
	}
	if s.fast == nil {
		limit := s.MaxRecvSize
		if limit <= 0 {
			limit = defaultMaxRecvSize
		}
		n := s.Concurrency
		if n <= 0 {
			n = defaultConcurrency
		}
		base := s.base
		s.fast = sp.NewServer(sp.ServerConfig{
			Handler:     func(dst, msg []byte) []byte { return s.appendReply(dst, base, msg) },
			Concurrency: n,
			MaxRecvSize: limit + recvSizeSlack,
			Logger:      s.logger().With("component", "worker"),
		})
	}
	return s.fast, nil
}

func (s *Server) fastServer() *sp.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fast
}

// socketLocked returns the socket, creating it on first use. The receive
// limit is a socket option that mangos copies into each listener and dialer
// as it is created, so it must be set here, before any Listen or Dial.
func (s *Server) socketLocked() (mangos.Socket, error) {
	s.initLocked()
	if s.stopping.Load() {
		return nil, ErrServerClosed
	}
	if s.sock != nil {
		return s.sock, nil
	}
	sock, err := rep.NewSocket()
	if err != nil {
		return nil, fmt.Errorf("worker: new REP socket: %w", err)
	}
	limit := s.MaxRecvSize
	if limit <= 0 {
		limit = defaultMaxRecvSize
	}
	if err := sock.SetOption(mangos.OptionMaxRecvSize, limit+recvSizeSlack); err != nil {
		_ = sock.Close()
		return nil, fmt.Errorf("worker: set receive limit: %w", err)
	}
	sock.SetPipeEventHook(s.pipeEvent)
	s.sock = sock
	return sock, nil
}

func (s *Server) initLocked() {
	if s.stopped == nil {
		s.stopped = make(chan struct{})
		s.begun = make(chan struct{})
		s.failed = make(chan struct{})
		s.base, s.cancel = context.WithCancel(context.Background())
	}
}

// beginStop marks the server stopping and returns its loops.
func (s *Server) beginStop() []*loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if !s.stopping.Swap(true) {
		close(s.begun)
	}
	return s.loops
}

func (s *Server) closeSocket() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	defer close(s.stopped)
	if s.sock == nil {
		return nil
	}
	if err := s.sock.Close(); err != nil && !errors.Is(err, mangos.ErrClosed) {
		return fmt.Errorf("worker: close socket: %w", err)
	}
	return nil
}

// options are the per-endpoint options: an asynchronous first dial (mangos'
// synchronous one fails, without retrying, if the gateway is not up yet),
// and the TLS configuration for the schemes that use one.
func (s *Server) options(url string, dial bool) map[string]any {
	opts := make(map[string]any, 2)
	if dial {
		opts[mangos.OptionDialAsynch] = true
	}
	if s.TLSConfig != nil && (strings.HasPrefix(url, "tls+tcp://") || strings.HasPrefix(url, "wss://")) {
		opts[mangos.OptionTLSConfig] = s.TLSConfig
	}
	return opts
}

// pipeEvent logs gateway connections: with an asynchronous dial, this is
// the only sign that a worker has reached its gateway.
func (s *Server) pipeEvent(ev mangos.PipeEvent, p mangos.Pipe) {
	switch ev {
	case mangos.PipeEventAttached:
		s.logger().Info("worker: gateway connected", "endpoint", p.Address(), "pipe", p.ID())
	case mangos.PipeEventDetached:
		s.logger().Info("worker: gateway disconnected", "endpoint", p.Address(), "pipe", p.ID())
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
