package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nanogate/nanogate/admin"
	"github.com/nanogate/nanogate/config"
	"github.com/nanogate/nanogate/frontend"
	"github.com/nanogate/nanogate/metrics"
)

// newMetrics makes the Prometheus metrics of the running gateway: the
// request counters it is told of as an Observer, and the state of the
// pools, the connections and the hub, read when scraped.
func newMetrics(cfg *config.Config, ups *upstreams, srv func() *frontend.Server) *metrics.Metrics {
	var names []string
	for _, r := range cfg.Routes {
		names = append(names, r.Name)
	}
	src := metrics.Sources{
		Endpoints:       func() []metrics.Endpoint { return ups.endpoints() },
		OpenConnections: func() int { return srv().OpenConns() },
		Serving:         func() int { return srv().Serving() },
	}
	if ups.hub != nil {
		src.LiveStreams = ups.hub.Live
		src.DroppedFrames = ups.frameDrops // the hub's, BlastBeat's (blastbeat.go) and ZHTTP's (zhttp.go)
	}
	return metrics.New(names, src)
}

// endpoints reports every endpoint of the running routes.
func (u *upstreams) endpoints() []metrics.Endpoint {
	var out []metrics.Endpoint
	for _, r := range u.snapshot() {
		for _, e := range r.Endpoints {
			out = append(out, metrics.Endpoint{Route: r.Name, URL: e.URL, Workers: e.Workers,
				InFlight: e.InFlight, Requests: e.Requests, Failures: e.Failures,
				Ejected: e.Ejected, Ejections: e.Ejections})
		}
	}
	return out
}

// snapshot is the running routes and their endpoints' state.
func (u *upstreams) snapshot() []admin.RouteState {
	u.mu.Lock()
	routes := append([]routeState(nil), u.routes...)
	u.mu.Unlock()
	var out []admin.RouteState
	for _, r := range routes {
		rs := admin.RouteState{Name: r.cfg.Name, Match: routeMatch(r.cfg), Format: r.cfg.Format}
		switch {
		case r.pool == nil:
		case r.pool.bridge != nil:
			for _, e := range r.pool.bridge.Stats() {
				rs.Endpoints = append(rs.Endpoints, admin.EndpointState{URL: e.URL, Listen: e.Listen,
					Workers: e.Workers, InFlight: e.InFlight, Requests: e.Requests, Failures: e.Failures,
					Ejected: e.Ejected, Ejections: e.Ejections})
			}
		case r.pool.bb != nil:
			rs.Endpoints = bbEndpoints(r.pool)
		case r.pool.zs != nil || r.pool.zr != nil:
			rs.Endpoints = zhttpEndpoints(r.pool)
		default:
			for _, e := range r.pool.hub.Stats() {
				rs.Endpoints = append(rs.Endpoints, admin.EndpointState{URL: e.URL, Listen: e.Listen,
					Workers: e.Workers, InFlight: e.Streams})
			}
		}
		out = append(out, rs)
	}
	return out
}

// notReady names the routes that have no worker connected; empty means
// ready (/readyz).
func (u *upstreams) notReady() []string {
	var out []string
	for _, r := range u.snapshot() {
		workers := 0
		for _, e := range r.Endpoints {
			workers += e.Workers
		}
		if workers == 0 {
			out = append(out, fmt.Sprintf("route %s: no worker connected", r.Name))
		}
	}
	return out
}

func routeMatch(r config.Route) string {
	if r.Regex != "" {
		return r.Host + "~" + r.Regex
	}
	return r.Host + r.Path
}

// startAdmin serves the admin listener on addr until the returned stop is
// called.
func startAdmin(addr string, m *metrics.Metrics, ups *upstreams, listen string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin.listen %s: %w", addr, err)
	}
	started := time.Now()
	srv := admin.New(admin.Config{
		Metrics: m.Handler(),
		Ready:   ups.notReady,
		Snapshot: func() admin.Snapshot {
			t := m.Totals()
			s := admin.Snapshot{Version: version(), Listen: listen, Started: started, Routes: ups.snapshot(),
				Requests: t.Requests, Rejections: t.Rejections}
			if ups.hub != nil {
				s.LiveStreams, s.DroppedFrames = ups.hub.Live(), ups.frameDrops()
			}
			return s
		},
		Logger: log,
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	log.Info("admin listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}
