// Command nanogate is an HTTP front end that hands every request to worker
// processes over nanomsg REQ/REP. It is the only place that reads flags,
// environment and files; the packages it wires take plain values.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/nanogate/nanogate/accesslog"
	"github.com/nanogate/nanogate/bridge"
	"github.com/nanogate/nanogate/config"
	"github.com/nanogate/nanogate/frontend"
	core "github.com/nanogate/nanogate/gateway"
	"github.com/nanogate/nanogate/hub"
	"github.com/nanogate/nanogate/metrics"
	"github.com/nanogate/nanogate/session"
)

const usage = `nanogate: HTTP front end for nanomsg REQ/REP workers

Usage:
  nanogate [flags]                 run the gateway
  nanogate check CONFIG            validate CONFIG and print its route table
  nanogate version                 print the version
  nanogate push --session ID ...   send a frame to a client's session (see nanogate push --help)

Quick start, no config file:
  nanogate --listen :8080 --route /api/=ipc:///tmp/nanogate-api.sock --timeout 5s

Flags:
`

// exit statuses
const (
	exitOK     = 0
	exitFail   = 1 // the gateway could not run
	exitConfig = 2 // bad flags or configuration
)

// routeFlags collects repeated --route values.
type routeFlags []string

func (r *routeFlags) String() string     { return strings.Join(*r, " ") }
func (r *routeFlags) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return check(args[1:], stdout, stderr)
		case "version":
			fmt.Fprintln(stdout, "nanogate", version())
			return exitOK
		case "push":
			return push(args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("nanogate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	var (
		configPath = fs.String("config", "", "TOML config `file` (see config/example.toml)")
		listen     = fs.String("listen", "", "listen `address`, host:port (overrides the config; zero: 127.0.0.1:8080); Condure's PORT[,req|,stream] too")
		timeout    = fs.Duration("timeout", 0, "worker reply `deadline` for the routes of --route and --zclient-* (zero: 30s)")
		logLevel   = fs.String("log-level", "", "debug, info, warn or error (overrides the config)")
		showVer    = fs.Bool("version", false, "print the version and exit")
		pprofAddr  = fs.String("pprof", "", "serve net/http/pprof on this `address` (e.g. 127.0.0.1:6060); off when empty")
		frontendF  = fs.String("frontend", "", "`fasthttp` or zmq: what accepts the clients, a TCP listener or a ZeroMQ ZMQ_STREAM socket (overrides the config)")
		adminAddr  = fs.String("admin", "", "admin listener `address` (metrics, health, status page, pprof), e.g. 127.0.0.1:9090 (overrides the config)")
		routes     routeFlags
	)
	fs.Var(&routes, "route", "route `PREFIX=ENDPOINT[,ENDPOINT...]`, repeatable; PREFIX may start with a host (example.com/api/)")
	zflags := addZClientFlags(fs) // Condure's flags (zhttp.go)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	if *showVer {
		fmt.Fprintln(stdout, "nanogate", version())
		return exitOK
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nanogate: unexpected argument %q (see nanogate --help)\n", fs.Arg(0))
		return exitConfig
	}

	cfg, err := buildConfig(*configPath, *listen, *frontendF, *adminAddr, *timeout, *logLevel, routes, zflags.routes(*listen)...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	log := newLogger(cfg.Log, stderr)
	var observers core.Observers
	if !cfg.Log.NoAccess {
		access := accesslog.New(stderr, cfg.Log.JSON)
		defer access.Close()
		observers = append(observers, access)
	}
	if *pprofAddr != "" {
		stop, err := servePprof(*pprofAddr, log)
		if err != nil {
			fmt.Fprintf(stderr, "--pprof: %v\n", err)
			return exitConfig
		}
		defer stop()
	}
	reload := func() (*config.Config, error) {
		if *configPath == "" {
			return nil, errors.New("no --config file to read again")
		}
		return buildConfig(*configPath, *listen, *frontendF, *adminAddr, *timeout, *logLevel, routes, zflags.routes(*listen)...)
	}
	if err := serve(cfg, log, reload, observers); err != nil {
		log.Error("nanogate stopped", "err", err)
		return exitFail
	}
	return exitOK
}

// buildConfig loads the file, if any, then applies the flags on top.
func buildConfig(path, listen, frontend, adminAddr string, timeout time.Duration, level string, routes []string, extra ...config.Route) (*config.Config, error) {
	var cfg *config.Config
	if path != "" {
		c, err := config.Load(path)
		if err != nil {
			return nil, err
		}
		cfg = c
	} else {
		cfg = config.Default()
		if len(routes) == 0 && len(extra) == 0 {
			return nil, errors.New("nanogate: no routes: give --config FILE or at least one --route PREFIX=ENDPOINT (see nanogate --help)")
		}
	}
	if listen != "" {
		cfg.Listen, _ = condureListen(listen)
	}
	if adminAddr != "" {
		cfg.Admin.Listen = adminAddr
	}
	if frontend != "" {
		cfg.Server.Frontend = frontend
	}
	if level != "" {
		if err := cfg.Log.Level.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("--log-level: %w", err)
		}
	}
	for _, s := range routes {
		r, err := config.ParseRouteFlag(s)
		if err != nil {
			return nil, err
		}
		if timeout > 0 {
			r.Timeout = timeout
		}
		cfg.Routes = append(cfg.Routes, r)
	}
	for _, r := range extra { // Condure's flags (zhttp.go)
		if timeout > 0 {
			r.Timeout = timeout
		}
		cfg.Routes = append(cfg.Routes, r)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func check(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: nanogate check CONFIG")
		return exitConfig
	}
	cfg, err := config.Load(args[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	reuse := ""
	if cfg.Server.ReusePort {
		reuse = " (reuse_port: shared with other nanogate processes)"
	}
	fmt.Fprintf(stdout, "%s: ok, listen %s%s\n", args[0], cfg.Listen, reuse)
	if err := cfg.WriteRoutes(stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	return exitOK
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	if c.JSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the gateway until SIGINT or SIGTERM; SIGHUP reloads the
// configuration (reload.go).
//
// Shutdown order: stop accepting and let requests in flight finish (the
// front end needs the pools until its last reply), then close the pools,
// then the hub (its inbound socket feeds the streams of the front end). A
// second signal during the drain stops at once.
func serve(cfg *config.Config, log *slog.Logger, reload func() (*config.Config, error), observers core.Observers) error {
	// Signals are caught from the start: a SIGHUP sent as soon as the
	// gateway says it listens must reload it, not kill it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	ups := &upstreams{log: log}
	defer ups.Close()
	stopReturning := make(chan struct{})
	returned := returnMemory(stopReturning, log)
	defer func() { close(stopReturning); <-returned }()
	if cfg.Sessions.Inbound != "" {
		h, err := hub.New(hub.Config{Inbound: cfg.Sessions.Inbound, Logger: log})
		if err != nil {
			return fmt.Errorf("sessions.inbound %s: %w", cfg.Sessions.Inbound, err)
		}
		ups.hub = h
		log.Info("session frames inbound", "url", cfg.Sessions.Inbound)
	}
	routes, pools, err := ups.build(cfg, false)
	if err != nil {
		return err
	}
	ups.commit(cfg, pools)
	var srv *frontend.Server
	var m *metrics.Metrics
	if cfg.Admin.Listen != "" {
		m = newMetrics(cfg, ups, func() *frontend.Server { return srv }) // read once the admin listener runs, after srv is set
		observers = append(observers, m)
	}
	srv = frontend.New(frontend.Config{
		Routes:         routes,
		ReadTimeout:    cfg.Server.ReadTimeout,
		WriteTimeout:   cfg.Server.WriteTimeout,
		IdleTimeout:    cfg.Server.IdleTimeout,
		MaxHeaderBytes: cfg.Server.MaxHeaderBytes,
		MaxBodyBytes:   int(cfg.Server.MaxBodyBytes),
		MaxConns:       cfg.Server.MaxConns,
		Logger:         log,
		Inbound:        cfg.Sessions.Inbound,
		StreamBodies:   ups.hub != nil,
		MaxBodyMemory:  cfg.Server.MaxBodyMemory,
		Observer:       observerOf(observers),
	})
	if m != nil {
		stop, err := startAdmin(cfg.Admin.Listen, m, ups, cfg.Listen, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	var ln net.Listener
	var ready *net.UnixConn // the old gateway's, when this one takes over from it
	if path := cfg.Server.UpgradeSocket; path != "" {
		if ln, ready, err = inherit(path); err != nil {
			return err
		}
	}
	inherited := ln != nil
	if inherited {
		// The old gateway serves on until this one says ready: take no
		// request before the workers are connected, or it would get 503.
		waitConnected(ups.all(), connectWait)
	}
	if !inherited {
		if ln, err = openListener(cfg, log); err != nil { // TCP, or ZMQ_STREAM (zmqfront.go)
			return err
		}
		defer stopListener(ln) // after Shutdown, before the pools close
	}
	tcpLn, _ := ln.(*net.TCPListener)
	var certs *certStore
	if cfg.Server.TLSCert != "" {
		if certs, err = newCertStore(cfg.Server.TLSCert, cfg.Server.TLSKey); err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, certs.config())
	}
	log.Info("nanogate listening", "addr", ln.Addr().String(), "tls", certs != nil, "inherited", inherited,
		"reuse_port", cfg.Server.ReusePort, "routes", len(routes), "version", version())
	if cfg.Server.ReusePort && resetsQueued(migrateSysctl) {
		log.Info("when this gateway stops, connections still in its accept queue are reset, not handed to "+
			"the others on its address; sysctl net.ipv4.tcp_migrate_req=1 hands them over", "addr", cfg.Listen)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready.Write([]byte("ready\n")) // the old gateway lets go of the socket and hands over its connections
		adopted := adoptConns(ready, srv, log)
		defer func() { ready.Close(); <-adopted }()
		log.Info("took over the listener from the previous gateway", "upgrade_socket", cfg.Server.UpgradeSocket)
	}
	var handed <-chan *net.UnixConn
	var successor *net.UnixConn // the new gateway's, once it took over
	if path := cfg.Server.UpgradeSocket; path != "" && tcpLn != nil {
		if up, err := listenUpgrades(path, tcpLn, log); err != nil {
			log.Warn("serving without the upgrade socket", "err", err)
		} else {
			defer up.Close()
			handed = up.handed
		}
	}
	for running := true; running; {
		select {
		case err := <-served:
			return err
		case c := <-handed:
			successor = c
			defer c.Close()
			log.Info("handed the listener to a new gateway; handing over connections", "deadline", cfg.Server.ShutdownTimeout)
			running = false
		case s := <-sig:
			if s != syscall.SIGHUP {
				log.Info("shutting down", "signal", s.String(), "deadline", cfg.Server.ShutdownTimeout)
				running = false
				break
			}
			cfg = reloadConfig(cfg, reload, ups, srv, log)
			if certs != nil {
				if err := certs.load(); err != nil {
					log.Error("reload: the certificate in use stays", "err", err)
				} else {
					log.Info("certificate reloaded", "cert", certs.certFile)
				}
			}
		}
	}
	// Stop accepting (the socket lives on in a process that took it over),
	// then let each connection finish its next request with
	// "Connection: close" before the rest are closed.
	ln.Close()
	<-served
	if successor != nil {
		// Each connection goes over as it waits for its next request;
		// those still busy at the end finish with "Connection: close".
		srv.HandOff(passConns(successor))
		srv.AwaitClosed(drainFor(cfg.Server.ShutdownTimeout))
	}
	srv.Drain(drainFor(cfg.Server.ShutdownTimeout))
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	go func() {
		for s := range sig {
			if s != syscall.SIGHUP {
				log.Warn("second signal: stopping now", "signal", s.String())
				cancel()
				return
			}
		}
	}()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
		log.Warn("shutdown incomplete", "err", err)
	}
	return nil
}

// drainFor is how long connections get to finish a request with
// "Connection: close" before the ones left (idle) are closed: a second,
// or less when the whole shutdown has less.
func drainFor(shutdown time.Duration) time.Duration { return min(time.Second, shutdown/2) }

// healthProbe is the request of a route's active health checks, in the
// http format: GET health_path, with the route's host when it names one.
func healthProbe(r config.Route) []byte {
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	return session.AppendRequest(nil, &session.Request{
		Method: []byte("GET"), URI: []byte(r.HealthPath), Proto: []byte("HTTP/1.1"),
		Header:    []byte("Host: " + host + "\r\nUser-Agent: nanogate-health-check\r\n"),
		Forward:   !r.NoForwardedHeaders && r.Compat != config.CompatModNano,
		ClientIP:  []byte("127.0.0.1"),
		RequestID: []byte("health-check"),
	})
}

// healthyReply: a probe passes with a 2xx reply.
func healthyReply(reply []byte) bool {
	var resp session.Response
	return resp.Parse(reply, false) == nil && resp.Status >= 200 && resp.Status < 300
}

func poolConfig(r config.Route, log *slog.Logger) (bridge.Config, error) {
	c := bridge.Config{
		Name:            r.Name,
		Timeout:         r.Timeout,
		Contexts:        r.Contexts,
		MaxReplyBytes:   int(r.MaxReplyBytes),
		RetryIdempotent: r.RetryIdempotent,
		Logger:          log,
		Health:          bridge.Health{Failures: r.EjectFailures, EjectFor: r.EjectTime, MaxEject: r.EjectMaxTime},
		Check:           session.LooksLikeResponse,
	}
	if r.NoEject {
		c.Health.Failures = -1
	}
	if r.HealthPath != "" {
		c.Probe = bridge.Probe{Msg: healthProbe(r), OK: healthyReply, Interval: r.HealthInterval}
	}
	for _, e := range r.Endpoints {
		tlsConfig, err := e.LoadTLS()
		if err != nil {
			return c, fmt.Errorf("endpoint %s: %w", e.URL, err)
		}
		c.Endpoints = append(c.Endpoints, bridge.Endpoint{URL: e.URL, Listen: e.Listen, Priority: e.Priority, TLS: tlsConfig})
	}
	return c, nil
}

// observerOf is nil for no observer, so that the front end skips the call.
func observerOf(o core.Observers) core.Observer {
	switch len(o) {
	case 0:
		return nil
	case 1:
		return o[0]
	}
	return o
}

func streamPoolConfig(r config.Route, log *slog.Logger) hub.PoolConfig {
	c := hub.PoolConfig{Name: r.Name, Logger: log}
	for _, e := range r.Endpoints {
		c.Endpoints = append(c.Endpoints, hub.Endpoint{URL: e.URL, Listen: e.Listen, Priority: e.Priority})
	}
	return c
}

// version is the module version stamped by the Go toolchain, or the VCS
// revision for a build from a work tree.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
