package worker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/nanogate/nanogate/internal/sp"
)

// ErrServerClosed is returned by Listen, Dial and Serve once Shutdown or
// Close has been called.
var ErrServerClosed = errors.New("worker: server closed")

const (
	defaultConcurrency = 64
	defaultMaxRecvSize = 64 << 20

	// recvSizeSlack: the receive limit counts the REQ protocol header (a
	// 4-byte request id, 4 more per device hop, at most 8 hops), while
	// MaxRecvSize speaks of the request message.
	recvSizeSlack = 64
)

// Server serves an http.Handler over a REP socket: each message is one
// HTTP request, each reply one HTTP response (the http format of
// nanogate's session package). The zero value is ready to use; set fields
// before the first Listen, Dial or Serve and do not change them afterwards.
//
// tcp:// and ipc:// are served by nanogate's own SP implementation, the
// other schemes by mangos; the two behave alike, Shutdown and Close
// included.
type Server struct {
	// Handler answers the requests. Zero: http.DefaultServeMux.
	Handler http.Handler

	// Fast, when set, answers the requests instead of Handler, without
	// net/http and without allocating (FastHandler).
	Fast FastHandler

	// Concurrency is how many requests are served at once, per kind of
	// endpoint (tcp:// and ipc://; the others). Further requests wait in
	// the gateway's connection, not in a queue here. Zero: 64.
	Concurrency int

	// MaxRecvSize is the largest request message accepted, in bytes. A
	// larger one drops the connection it came on (the gateway sees its
	// request fail, or resend it if it resends). Zero: 64 MiB. mangos' own
	// default of 1 MiB is never used.
	MaxRecvSize int

	// Logger receives bad request messages, handler panics and connection
	// events. Zero: slog.Default().
	Logger *slog.Logger

	// TLSConfig is used by tls+tcp:// and wss:// endpoints: it needs a
	// certificate to Listen, and is the client configuration for Dial.
	// Zero: those endpoints cannot Listen, and Dial uses the system roots.
	TLSConfig *tls.Config

	mu       sync.Mutex
	engines  [numKinds]engine // created by the first Listen or Dial of their kind
	serving  bool
	stopping bool            // Shutdown or Close called: attach and serve no more
	closed   bool            // the engines are closed
	begun    chan struct{}   // closed when Shutdown or Close begins
	failed   chan struct{}   // closed when an engine stopped serving on its own
	failOnce sync.Once       // closes failed
	stopped  chan struct{}   // closed with the engines
	base     context.Context // parent of every request's context
	cancel   context.CancelFunc
}

// Listen binds url (ipc://, tcp://, tls+tcp://, ws://, wss://, inproc://)
// for gateways to dial. It may be called several times, before or while
// serving.
func (s *Server) Listen(url string) error { return s.attach(url, false) }

// Dial connects to a gateway that listens on url. It returns once the
// dialer is set up: the connection is made in the background, and made
// again with backoff whenever it drops, so a worker may start before its
// gateway. It may be called several times (one per gateway).
func (s *Server) Dial(url string) error { return s.attach(url, true) }

// attach binds or dials url with the engine of its scheme. The lock is held
// throughout, so that Shutdown and Close see every engine attached.
func (s *Server) attach(url string, dial bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	verb, do := "listen", engine.listen
	if dial {
		verb, do = "dial", engine.dial
	}
	e, err := s.engineLocked(url)
	if err != nil {
		return err
	}
	if s.serving {
		err = e.serve()
	}
	if err == nil {
		err = do(e, url)
	}
	if err != nil {
		return fmt.Errorf("worker: %s %s: %w", verb, url, err)
	}
	return nil
}

// engineLocked returns the engine that serves url's scheme, creating it on
// first use.
func (s *Server) engineLocked(url string) (engine, error) {
	s.initLocked()
	if s.stopping {
		return nil, ErrServerClosed
	}
	kind := kindMangos
	if sp.Supported(url) {
		kind = kindSP
	}
	if s.engines[kind] != nil {
		return s.engines[kind], nil
	}
	n := s.Concurrency
	if n <= 0 {
		n = defaultConcurrency
	}
	limit := s.MaxRecvSize
	if limit <= 0 {
		limit = defaultMaxRecvSize
	}
	limit += recvSizeSlack
	var e engine
	if kind == kindSP {
		e = newSPEngine(s, s.base, n, limit, s.logger())
	} else {
		m, err := newMangosEngine(s, s.base, n, limit, s.logger(), s.fail)
		if err != nil {
			return nil, err
		}
		e = m
	}
	s.engines[kind] = e
	return e, nil
}

// Serve serves requests until Shutdown or Close, and returns nil once
// every handler has returned and the sockets are closed. It returns
// ErrServerClosed if the server was already stopped.
func (s *Server) Serve() error {
	if err := s.start(); err != nil {
		return err
	}
	select {
	case <-s.begun:
	case <-s.failed:
	}
	if !s.stopBegun() {
		// Every REP context of mangos failed under us (it returns no
		// other receive error to a context without deadline).
		_ = s.Close()
		s.waitHandlers()
		return errors.New("worker: every REP context failed")
	}
	s.waitHandlers()
	<-s.stopped // Shutdown closes the sockets after the last replies left
	return nil
}

// Shutdown stops taking requests, waits for the handlers in flight to
// return and their replies to be written, then closes the sockets and
// returns nil. Requests that the gateway sent but no handler had taken are
// not served: with resending off the gateway sees them fail when the
// connection closes. If ctx ends first, Shutdown does what Close does and
// returns ctx.Err(). The same holds on every transport.
func (s *Server) Shutdown(ctx context.Context) error {
	engines := s.beginStop()
	var drained []<-chan struct{}
	for _, e := range engines { // all stop taking requests before any wait
		drained = append(drained, e.shutdown())
	}
	for _, d := range drained {
		select {
		case <-d:
		case <-ctx.Done():
			_ = s.Close()
			return ctx.Err()
		}
	}
	return s.closeEngines(engines)
}

// Close stops taking requests, closes the sockets at once, then cancels the
// context of every request in flight. It does not wait for the handlers:
// their replies are dropped, and the gateway sees those requests fail.
// Serve still waits for the handlers to return, so they should watch their
// request's context. The same holds on every transport.
func (s *Server) Close() error {
	engines := s.beginStop()
	err := s.closeEngines(engines)
	s.cancel()
	return err
}

// ListenAndServe serves h on a socket bound to url until an error occurs,
// or until SIGTERM or SIGINT, when it drains (see ServeUntilSignal).
func ListenAndServe(url string, h http.Handler) error {
	s := &Server{Handler: h}
	if err := s.Listen(url); err != nil {
		_ = s.Close()
		return err
	}
	return s.ServeUntilSignal(DrainTimeout)
}

// DialAndServe serves h to the gateway listening on url, reconnecting as
// needed, until an error occurs, or until SIGTERM or SIGINT, when it
// drains (see ServeUntilSignal).
func DialAndServe(url string, h http.Handler) error {
	s := &Server{Handler: h}
	if err := s.Dial(url); err != nil {
		_ = s.Close()
		return err
	}
	return s.ServeUntilSignal(DrainTimeout)
}

// start marks the server serving and starts the engines attached so far;
// attach starts the later ones.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.stopping {
		return ErrServerClosed
	}
	if s.serving {
		return errors.New("worker: Serve called twice")
	}
	s.serving = true
	for _, e := range s.attached() {
		if err := e.serve(); err != nil {
			return err
		}
	}
	return nil
}

// attached lists the engines created so far; the caller holds mu.
func (s *Server) attached() []engine {
	var es []engine
	for _, e := range s.engines {
		if e != nil {
			es = append(es, e)
		}
	}
	return es
}

// waitHandlers waits for every handler to return, once stopping began.
func (s *Server) waitHandlers() {
	s.mu.Lock()
	engines := s.attached() // none is added once stopping
	s.mu.Unlock()
	for _, e := range engines {
		<-e.shutdown()
	}
}

func (s *Server) initLocked() {
	if s.stopped == nil {
		s.stopped = make(chan struct{})
		s.begun = make(chan struct{})
		s.failed = make(chan struct{})
		s.base, s.cancel = context.WithCancel(context.Background())
	}
}

func (s *Server) stopBegun() bool {
	select {
	case <-s.begun:
		return true
	default:
		return false
	}
}

// fail is called by an engine that stopped serving on its own.
func (s *Server) fail() { s.failOnce.Do(func() { close(s.failed) }) }

// beginStop marks the server stopping and returns its engines.
func (s *Server) beginStop() []engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if !s.stopping {
		s.stopping = true
		close(s.begun)
	}
	return s.attached()
}

// closeEngines closes the engines, once.
func (s *Server) closeEngines(engines []engine) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	defer close(s.stopped)
	var errs []error
	for _, e := range engines {
		errs = append(errs, e.close())
	}
	return errors.Join(errs...)
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
