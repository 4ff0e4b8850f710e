package main

import (
	"errors"
	"fmt"
	"sync"

	"github.com/nanogate/nanogate/admin"
	"github.com/nanogate/nanogate/blastbeat"
	"github.com/nanogate/nanogate/config"
	core "github.com/nanogate/nanogate/gateway"
	"github.com/nanogate/nanogate/hub"
)

// bbRouters holds the BlastBeat ROUTERs, one per bound address, for the
// life of the process: a reload that keeps an address keeps its dealers
// connected and their requests going (routes only make new Vhosts over
// the same nodes). Closed by upstreams.Close, after the front end.
type bbRouters struct {
	mu     sync.Mutex
	cfg    config.BlastBeat
	m      map[string]*blastbeat.Router // by libzmq address
	warned bool
}

// configure takes the [blastbeat] settings of cfg, makes the hub the
// routers deliver to (without an SP inbound address when the
// configuration has none), and logs an .ini file's ignored lines once.
// A hub can only be made before the front end starts: a reload that adds
// the first blastbeat route is refused, as one adding frames is.
func (u *upstreams) configureBlastBeat(cfg *config.Config, reload bool) error {
	has := false
	for _, r := range cfg.Routes {
		has = has || r.Format == config.FormatBlastBeat
	}
	if !has {
		return nil
	}
	b := &u.bb
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.warned {
		b.warned = true
		for _, w := range cfg.Warnings {
			u.log.Warn("blastbeat config", "ignored", w)
		}
	}
	if u.hub == nil {
		if reload {
			return errors.New("the first route of format blastbeat needs a restart (the front end streams its bodies)")
		}
		h, err := hub.New(hub.Config{Logger: u.log})
		if err != nil {
			return err
		}
		u.hub = h
	}
	if b.m != nil && b.cfg != cfg.BlastBeat {
		u.log.Warn("blastbeat: ping_freq and max_hops apply to new ROUTER addresses only until a restart")
	}
	b.cfg = cfg.BlastBeat
	return nil
}

// openBlastBeat makes the upstream of a blastbeat route: a Vhost over the
// ROUTER of its address, which is bound on first use.
func (u *upstreams) openBlastBeat(r config.Route) (*upstream, error) {
	addr := config.ZMQAddress(r.Endpoints[0].URL)
	b := &u.bb
	b.mu.Lock()
	defer b.mu.Unlock()
	rt := b.m[addr]
	if rt == nil {
		var err error
		rt, err = blastbeat.New(blastbeat.Config{Bind: addr, Hub: u.hub, PingEvery: b.cfg.PingFreq,
			MaxHops: b.cfg.MaxHops, Logger: u.log})
		if err != nil {
			return nil, err
		}
		if b.m == nil {
			b.m = map[string]*blastbeat.Router{}
		}
		b.m[addr] = rt
		u.log.Info("blastbeat router bound", "url", rt.Endpoint(), "ping_freq", b.cfg.PingFreq, "max_hops", b.cfg.MaxHops)
	}
	p := blastbeat.Uwsgi
	if r.BlastBeat.Packet == config.PacketHeaders {
		p = blastbeat.Headers
	}
	return &upstream{bb: rt.Vhost(r.BlastBeat.Vhost, r.BlastBeat.Nodes, p), bbRouter: rt}, nil
}

// bbKey is a blastbeat route's pool key: routes with the same one share a
// Vhost.
func bbKey(r config.Route) string {
	return fmt.Sprintf("blastbeat %s %s %v %s", r.Endpoints[0].URL, r.BlastBeat.Vhost, r.BlastBeat.Nodes, r.BlastBeat.Packet)
}

// closeBlastBeat closes every ROUTER: their requests end.
func (u *upstreams) closeBlastBeat() {
	u.bb.mu.Lock()
	m := u.bb.m
	u.bb.m = nil
	u.bb.mu.Unlock()
	for _, rt := range m {
		rt.Close()
	}
}

// streams is what a frames or blastbeat route opens its streams on, or
// nil for an http route.
func (u *upstream) streams() core.Streams {
	switch {
	case u.bb != nil:
		return u.bb
	case u.hub != nil:
		return u.hub
	}
	return nil
}

// bbEndpoints describes a blastbeat route for the status page: its
// ROUTER, and each node as an endpoint with its live requests.
func bbEndpoints(u *upstream) []admin.EndpointState {
	var out []admin.EndpointState
	for _, n := range u.bbRouter.Stats().Nodes {
		if !u.bb.Has(n.Name) {
			continue
		}
		w := 0
		if n.Up {
			w = 1
		}
		out = append(out, admin.EndpointState{URL: u.bbRouter.Endpoint() + " node " + n.Name, Listen: true, Workers: w, InFlight: n.Sessions})
	}
	return out
}

// droppedFrames is the hub's drops by reason, and the BlastBeat routers'
// as "blastbeat_" and the reason (summed over routers).
func (u *upstreams) droppedFrames() map[string]uint64 {
	out := u.hub.Drops()
	u.bb.mu.Lock()
	defer u.bb.mu.Unlock()
	for _, rt := range u.bb.m {
		for k, n := range rt.Stats().Drops {
			out["blastbeat_"+k] += n
		}
	}
	return out
}
