package frontend

import (
	"context"
	"fmt"
	"github.com/nanogate/nanogate/gateway"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/nanogate/nanogate/session"
	"github.com/valyala/fasthttp"
)

// Config shapes the front end. Every zero value is usable.
type Config struct {
	Routes         []Route
	ReadTimeout    time.Duration // to read one request, headers and body; zero: 30s
	WriteTimeout   time.Duration // zero: 30s
	IdleTimeout    time.Duration // keep-alive idle; zero: 90s
	MaxHeaderBytes int           // request line and headers; over it: 431; zero: 8 KiB
	MaxBodyBytes   int           // over it: 413; zero: 8 MiB
	MaxConns       int           // connections served at once; zero: fasthttp's 256 Ki
	Logger         *slog.Logger  // zero: slog.Default()
	// Inbound is the hub's inbound address, named to workers in every
	// request of a frames route (X-Nanogate-Inbound). Zero: not sent.
	Inbound string
	// StreamBodies hands request bodies over as they arrive (fasthttp's
	// StreamRequestBody), which frames routes need to relay an upload
	// without holding it. The price: each connection keeps its 8 KiB read
	// buffer while idle. Zero: bodies are read whole before the handler.
	StreamBodies bool
	// Observer is told of every request served (metrics, access logs).
	// Zero: none, at no cost.
	Observer gateway.Observer
	// MaxBodyMemory bounds the request bodies being received at once
	// (their announced lengths); past it a request gets 503. It applies
	// when bodies are read whole (StreamBodies off). Zero: 256 MiB.
	MaxBodyMemory int64
}

// Server is the HTTP side of the gateway.
type Server struct {
	srv     *fasthttp.Server
	router  atomic.Pointer[gateway.Router] // swapped whole by SetRoutes
	log     *slog.Logger
	sessIDs *session.IDGen // one session id per client connection
	reqIDs  *session.IDGen // one request id per request

	inboundLine  []byte // "X-Nanogate-Inbound: URL\r\n", for frames routes
	writeTimeout time.Duration
	readTimeout  time.Duration
	maxBody      int
	streamBodies bool
	observer     gateway.Observer
	failLog      rateLimit     // upstream failures logged: a burst a second, the rest counted
	draining     atomic.Bool   // every response says Connection: close (Drain)
	budget       *bodyBudget   // nil when bodies stream
	slack        time.Duration // a sixteenth of the shortest timeout (clientConn)
	conns        connSet       // open client connections, for HandOff
	served       atomic.Bool   // Serve has returned (OpenConns)
	stopping     atomic.Bool   // Shutdown was called (OpenConns)
}

// New builds a Server; it serves nothing until Serve.
func New(c Config) *Server {
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		log:     log,
		sessIDs: session.NewIDGen(),
		reqIDs:  session.NewIDGen(),

		writeTimeout: orDefault(c.WriteTimeout, 30*time.Second),
		readTimeout:  orDefault(c.ReadTimeout, 30*time.Second),
		maxBody:      orDefault(c.MaxBodyBytes, 8<<20),
		streamBodies: c.StreamBodies,
		observer:     c.Observer,
		failLog:      rateLimit{perSecond: 20},
	}
	s.router.Store(gateway.NewRouter(c.Routes))
	if c.Inbound != "" {
		s.inboundLine = []byte("X-Nanogate-Inbound: " + c.Inbound + "\r\n")
	}
	s.srv = &fasthttp.Server{
		Handler:        s.handle,
		ErrorHandler:   s.parseError,
		ReadTimeout:    orDefault(c.ReadTimeout, 30*time.Second),
		WriteTimeout:   orDefault(c.WriteTimeout, 30*time.Second),
		IdleTimeout:    orDefault(c.IdleTimeout, 90*time.Second),
		ReadBufferSize: orDefault(c.MaxHeaderBytes, 8<<10),
		// The header and a body up to ~32 KiB leave in one write. With
		// fasthttp's 4 KiB default, a 16 KiB reply took two (the buffer
		// full, then the rest), and each write to a loopback client costs
		// the gateway the client's TCP receive too: 10-15% of the
		// gateway's CPU per 16 KiB reply (bench/harness --scenario big).
		// The buffer is pooled and held only while a response is written
		// (ReduceMemoryUsage), so idle connections do not pay for it.
		WriteBufferSize:    32 << 10,
		MaxRequestBodySize: orDefault(c.MaxBodyBytes, 8<<20),
		StreamRequestBody:  c.StreamBodies,
		Concurrency:        c.MaxConns,
		Logger:             fasthttpLogger{log},
		// Pass the worker's headers as it wrote them: no renaming, no
		// invented Content-Type, no Server header of our own.
		DisableHeaderNamesNormalizing: true,
		NoDefaultContentType:          true,
		NoDefaultServerHeader:         true,
		CloseOnShutdown:               true,
		// Idle keep-alive connections give their read and write buffers
		// back to the pools: measured with bench/harness --scenario idle,
		// 10k idle connections cost 20.8 KiB each without it. The price is
		// a pool get and put per request.
		ReduceMemoryUsage: true,
	}
	if !c.StreamBodies {
		s.budget = newBodyBudget(orDefault(c.MaxBodyMemory, 256<<20), s.readTimeout)
		s.srv.HeaderReceived = s.budget.reserve
	}
	s.slack = min(s.srv.ReadTimeout, s.srv.WriteTimeout, s.srv.IdleTimeout) / 16
	return s
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// SetRoutes replaces the route table, for a reload. Requests already
// routed finish on the routes (and upstreams) they were given; the next
// ones see the new table.
func (s *Server) SetRoutes(routes []Route) {
	s.router.Store(gateway.NewRouter(routes))
}

// OpenConns is the number of client connections open now.
func (s *Server) OpenConns() int {
	n := int(s.srv.GetOpenConnectionsCount())
	if s.served.Load() && !s.stopping.Load() {
		// fasthttp counts a running Serve as a connection and takes one
		// off the total for it, also once Serve has returned: without
		// this, Drain found no connection open while one still was.
		n++
	}
	return n
}

// Serving is the number of connections with a request in progress.
func (s *Server) Serving() int { return int(s.srv.GetCurrentConcurrency()) }

// Drain makes every response close its connection, then waits until no
// connection is open or for d: a client that sends its next request while
// the gateway stops gets an answer, and reconnects elsewhere, instead of a
// connection closed under it. Call it once the listener is closed, before
// Shutdown, which closes what is left (connections idle all along).
func (s *Server) Drain(d time.Duration) {
	s.draining.Store(true)
	s.AwaitClosed(d)
}

// AwaitClosed waits until no client connection is open, or d has passed,
// and reports whether none is.
func (s *Server) AwaitClosed(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for s.OpenConns() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	defer s.served.Store(true)
	return s.srv.Serve(listener{ln, s})
}

// Shutdown stops accepting, lets requests in flight finish, and closes idle
// connections, waiting at most until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	return s.srv.ShutdownWithContext(ctx)
}

// parseError answers a request fasthttp could not read.
func (s *Server) parseError(ctx *fasthttp.RequestCtx, err error) {
	status, reason := parseErrorStatus(err)
	if s.budget != nil && s.budget.release(&ctx.Request.Header) {
		// Refused for the budget, not for its size: it may come back.
		status, reason = fasthttp.StatusServiceUnavailable, gateway.ReasonBusy
		ctx.Response.Header.Set("Retry-After", "1")
	}
	if cc, ok := ctx.Conn().(LingeringCloser); ok && (status == fasthttp.StatusRequestEntityTooLarge || status == fasthttp.StatusServiceUnavailable) {
		cc.LingerOnClose()
	}
	s.log.Info("unreadable request", "status", status, "client", ctx.RemoteAddr().String(), "err", err)
	s.errorReply(ctx, status, err.Error())
	if s.observer != nil {
		s.observer.Served(gateway.Exchange{Method: ctx.Request.Header.Method(), URI: ctx.Request.Header.RequestURI(),
			Client: ctx.RemoteAddr(), Conn: ctx.ConnID(), Status: status, Bytes: len(ctx.Response.Body()), Reason: reason})
	}
}

// fasthttpLogger sends fasthttp's own messages to slog.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...), "source", "fasthttp")
}
