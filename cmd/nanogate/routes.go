package main

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/nanogate/nanogate/blastbeat"
	"github.com/nanogate/nanogate/bridge"
	"github.com/nanogate/nanogate/config"
	"github.com/nanogate/nanogate/frontend"
	"github.com/nanogate/nanogate/hub"
	"github.com/nanogate/nanogate/zclient"
)

// upstreams owns the pools of the running configuration, keyed by
// everything a pool is built from, so that a reload keeps the pools whose
// routes did not change: their connections to workers, and the requests
// and streams in flight on them, go on untouched.
type upstreams struct {
	log *slog.Logger
	hub *hub.Hub // nil when no route is of format frames

	mu      sync.Mutex                // pools and routes change on a reload; the admin listener reads them
	pools   map[string]*upstream      // by poolKey
	routes  []routeState              // the running routes, for metrics and the status page
	closing map[*upstream]*time.Timer // retired pools waiting out their grace
	bb      bbRouters                 // BlastBeat ROUTERs (blastbeat.go)
	zc      zclients                  // ZHTTP sockets (zhttp.go)
}

// routeState is a running route and its pool.
type routeState struct {
	cfg  config.Route
	pool *upstream
}

// upstream is one pool, of either format.
type upstream struct {
	bridge   *bridge.Pool
	hub      *hub.Pool
	bb       *blastbeat.Vhost // a blastbeat route's, over bbRouter (blastbeat.go)
	bbRouter *blastbeat.Router
	zs       *zclient.Stream // a zhttp route's, stream mode (zhttp.go)
	zr       *zclient.Req    // a zhttp route's, REQ mode
	listen   []string        // URLs it binds
	grace    time.Duration
}

// all lists the running pools.
func (u *upstreams) all() []*upstream {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]*upstream, 0, len(u.pools))
	for _, p := range u.pools {
		out = append(out, p)
	}
	return out
}

// workers is the number of workers connected to the pool.
func (u *upstream) workers() int {
	if u.zs != nil || u.zr != nil {
		return 1 // handlers take requests from a queue: how many is not known
	}
	if u.bb != nil {
		return u.bb.Workers()
	}
	if u.hub != nil {
		return u.hub.Workers()
	}
	n := 0
	for _, w := range u.bridge.Workers() {
		n += w
	}
	return n
}

func (u *upstream) Close() error {
	if u.bb != nil || u.zs != nil || u.zr != nil {
		return nil // the sockets outlive their routes (bbRouters, zclients)
	}
	if u.bridge != nil {
		return u.bridge.Close()
	}
	return u.hub.Close()
}

// poolKey is what a route's pool is made of: two routes with the same key
// could share one pool, and a reload that keeps the key keeps the pool.
func poolKey(r config.Route) string {
	if r.Format == config.FormatBlastBeat {
		return bbKey(r)
	}
	if r.Format == config.FormatZHTTP {
		return zhttpKey(r)
	}
	if r.Format == config.FormatFrames {
		return fmt.Sprintf("frames %v", r.Endpoints)
	}
	return fmt.Sprintf("http %v %v %d %d %v %v %d %v %v %q %v %q", r.Endpoints, r.Timeout, r.Contexts, r.MaxReplyBytes,
		r.RetryIdempotent, r.NoEject, r.EjectFailures, r.EjectTime, r.EjectMaxTime, r.HealthPath, r.HealthInterval, r.Host)
}

// build makes the routes of cfg, reusing the pools that exist for the same
// key and opening the others. It returns the routes and the pools they use;
// nothing changes in u until commit. On an error, the pools it opened are
// closed again. With wait (a reload), it gives new pools connectWait to
// reach their workers before they take traffic.
func (u *upstreams) build(cfg *config.Config, wait bool) ([]frontend.Route, map[string]*upstream, error) {
	if u.hub == nil && slices.ContainsFunc(cfg.Routes, func(r config.Route) bool { return r.Format == config.FormatFrames }) {
		return nil, nil, errors.New("a route of format frames needs [sessions] inbound, which only a restart can add")
	}
	if err := u.configureBlastBeat(cfg, wait); err != nil {
		return nil, nil, err
	}
	if err := u.configureZHTTP(cfg, wait); err != nil {
		return nil, nil, err
	}
	next := make(map[string]*upstream)
	var opened []*upstream
	fail := func(err error) ([]frontend.Route, map[string]*upstream, error) {
		for _, p := range opened {
			p.Close()
		}
		return nil, nil, err
	}
	var routes []frontend.Route
	for _, r := range cfg.Routes {
		key := poolKey(r)
		up := next[key]
		if up == nil {
			u.mu.Lock()
			up = u.pools[key]
			u.mu.Unlock()
		}
		if up == nil {
			// A listen address held by a pool that goes away must be
			// free before a new pool binds it.
			u.releaseListens(r, next)
			var err error
			if up, err = u.open(r); err != nil {
				return fail(fmt.Errorf("route %s: %w", r.Name, err))
			}
			opened = append(opened, up)
		}
		up.grace = max(up.grace, r.Timeout)
		next[key] = up
		fr := frontend.Route{
			Name: r.Name, Host: r.Host, Path: r.Path,
			Forward: !r.NoForwardedHeaders && r.Compat != config.CompatModNano,
		}
		if up.zs != nil {
			fr.Streams, fr.Timeout, fr.StreamIdle = up.zs, r.Timeout, r.StreamIdleTimeout
			fr.WebSocket, fr.Origins, fr.MaxMessageBytes = r.WebSocket, r.Origins, r.MaxMessageBytes
		} else if up.zr != nil {
			fr.Upstream = up.zr
		} else if s := up.streams(); s != nil {
			fr.Streams, fr.Timeout, fr.StreamIdle = s, r.Timeout, r.StreamIdleTimeout
			fr.WebSocket, fr.Origins, fr.MaxMessageBytes = r.WebSocket, r.Origins, r.MaxMessageBytes
		} else {
			fr.Upstream = up.bridge
		}
		if r.Regex != "" {
			fr.Regex = regexp.MustCompile(r.Regex) // Validate compiled it already
		}
		routes = append(routes, fr)
	}
	if wait {
		waitConnected(opened, connectWait)
	}
	return routes, next, nil
}

// connectWait bounds how long a reload waits for its new pools to reach
// their workers: swapped in before, a new pool would answer 503 to the
// requests that reach it while its connections come up.
const connectWait = 3 * time.Second

// waitConnected waits until every pool has a worker, or the time is up (a
// route whose workers are down is swapped in all the same).
func waitConnected(pools []*upstream, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for _, p := range pools {
		for p.workers() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (u *upstreams) open(r config.Route) (*upstream, error) {
	if r.Format == config.FormatBlastBeat {
		return u.openBlastBeat(r)
	}
	if r.Format == config.FormatZHTTP {
		return u.openZHTTP(r)
	}
	up := &upstream{}
	for _, e := range r.Endpoints {
		if e.Listen {
			up.listen = append(up.listen, e.URL)
		}
	}
	var err error
	if r.Format == config.FormatFrames {
		up.hub, err = u.hub.NewPool(streamPoolConfig(r, u.log))
	} else {
		var c bridge.Config
		if c, err = poolConfig(r, u.log); err == nil {
			up.bridge, err = bridge.NewPool(c)
		}
	}
	return up, err
}

// releaseListens closes at once the current pools that bind an address r
// listens on and that the new configuration does not keep (a route whose
// settings changed): their requests in flight fail, since the address
// cannot be bound twice.
func (u *upstreams) releaseListens(r config.Route, next map[string]*upstream) {
	for key, p := range u.pools {
		if next[key] == p || poolKey(r) == key {
			continue
		}
		for _, e := range r.Endpoints {
			if e.Listen && slices.Contains(p.listen, e.URL) {
				u.log.Warn("reload: closing a pool at once to bind its address anew", "url", e.URL)
				p.Close()
				u.mu.Lock()
				delete(u.pools, key)
				u.mu.Unlock()
				break
			}
		}
	}
}

// commit makes next the running pools and retires the others: each is
// closed once the longest timeout of its routes has passed, so that the
// requests in flight on it finish (a stream on a retired frames pool ends
// then).
func (u *upstreams) commit(cfg *config.Config, next map[string]*upstream) {
	u.mu.Lock()
	old := u.pools
	u.pools = next
	u.routes = u.routes[:0:0]
	for _, r := range cfg.Routes {
		u.routes = append(u.routes, routeState{cfg: r, pool: next[poolKey(r)]})
	}
	u.mu.Unlock()
	for key, p := range old {
		if next[key] == p {
			continue
		}
		u.mu.Lock()
		if u.closing == nil {
			u.closing = make(map[*upstream]*time.Timer)
		}
		u.closing[p] = time.AfterFunc(p.grace+time.Second, func() {
			u.mu.Lock()
			_, ok := u.closing[p]
			delete(u.closing, p)
			u.mu.Unlock()
			if ok {
				p.Close()
			}
		})
		u.mu.Unlock()
	}
}

// Close closes every pool, retiring ones included, and the hub.
func (u *upstreams) Close() error {
	u.mu.Lock()
	closing := u.closing
	u.closing = nil
	u.mu.Unlock()
	for p, t := range closing {
		t.Stop()
		p.Close()
	}
	u.mu.Lock()
	pools := u.pools
	u.pools = nil
	u.mu.Unlock()
	for _, p := range pools {
		p.Close()
	}
	u.closeBlastBeat()
	u.closeZHTTP()
	if u.hub != nil {
		u.hub.Close()
	}
	return nil
}
