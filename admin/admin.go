// Package admin is the operator's HTTP listener: Prometheus metrics, the
// liveness and readiness probes, a status page and the profiler. It uses
// net/http, not the gateway's fasthttp front end: it is not on the request
// path, and pprof and promhttp are net/http handlers.
//
// It exposes the gateway's internals (worker addresses, profiles, the
// command line), so it belongs on a private address such as
// 127.0.0.1:9090, never on the public one.
//
//	/metrics        the handler given in Config.Metrics
//	/livez          200 "ok" while the process serves
//	/readyz         200 "ok", or 503 and what is not ready, one line each
//	/               the status page
//	/debug/pprof/   net/http/pprof, on this listener's mux only
//
// Everything shown comes from funcs the caller gives, so that this package
// imports neither bridge nor hub nor metrics.
package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"
)

// Config shapes a Server. Every zero value is usable.
type Config struct {
	// Metrics serves /metrics, typically metrics.Metrics.Handler(). Zero:
	// /metrics is 404.
	Metrics http.Handler
	// Ready reports what keeps the gateway from serving, one line each
	// ("route api: no worker connected"); none means ready. It runs on
	// every probe, so it must be cheap. Zero: always ready.
	Ready func() []string
	// Snapshot is what the status page shows, taken on every view. Zero:
	// a page with the uptime only.
	Snapshot func() Snapshot
	// Refresh is how often the status page reloads itself; zero: 5s.
	Refresh time.Duration // rounded to whole seconds
	Logger  *slog.Logger  // zero: slog.Default()
}

// Server is the admin listener.
type Server struct {
	srv      *http.Server
	ready    func() []string
	snapshot func() Snapshot
	started  time.Time // the uptime's origin when a Snapshot does not say
	refresh  int       // seconds
}

// New builds a Server; it serves nothing until Serve.
func New(c Config) *Server {
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	refresh := c.Refresh
	if refresh <= 0 {
		refresh = 5 * time.Second
	}
	s := &Server{ready: c.Ready, snapshot: c.Snapshot, started: time.Now(),
		refresh: max(int(refresh.Seconds()), 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.status)
	mux.HandleFunc("GET /livez", livez)
	mux.HandleFunc("GET /readyz", s.readyz)
	if c.Metrics != nil {
		mux.Handle("GET /metrics", c.Metrics)
	}
	// Importing net/http/pprof also registers these on http.DefaultServeMux;
	// nothing in the gateway serves that mux, so only this listener has them.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		// No WriteTimeout: /debug/pprof/profile and /trace write for as
		// many seconds as the operator asks, and pprof refuses a duration
		// longer than the server's WriteTimeout.
		ErrorLog: slog.NewLogLogger(log.With("listener", "admin").Handler(), slog.LevelWarn),
	}
	return s
}

// Serve accepts connections on ln until Shutdown, then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting and waits, at most until ctx is done, for the
// requests in flight; a profile being taken is one, and may take long.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.Shutdown(ctx)
}

// livez answers as long as the process runs handlers. It checks nothing
// else on purpose: a missing worker is readiness, and a liveness probe
// that failed on it would have the gateway restarted for a worker's fault.
func livez(w http.ResponseWriter, _ *http.Request) {
	plain(w, http.StatusOK, "ok\n")
}

// readyz is 503 while anything is not ready, so that a load balancer sends
// no traffic to a gateway whose routes have no worker to serve it.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if problems := s.problems(); len(problems) > 0 {
		plain(w, http.StatusServiceUnavailable, strings.Join(problems, "\n")+"\n")
		return
	}
	plain(w, http.StatusOK, "ok\n")
}

func (s *Server) problems() []string {
	if s.ready == nil {
		return nil
	}
	return s.ready()
}

func plain(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store") // a probe must see now, not a proxy's copy
	w.WriteHeader(status)
	io.WriteString(w, body)
}
