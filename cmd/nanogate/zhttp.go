package main

import (
	"cmp"
	"errors"
	"flag"
	"strings"
	"sync"

	"github.com/nanogate/nanogate/admin"
	"github.com/nanogate/nanogate/config"
	"github.com/nanogate/nanogate/hub"
	"github.com/nanogate/nanogate/zclient"
)

// zclientFlags are Condure's flags, so that a Condure command line runs
// nanogate in its place: nanogate --listen 8000 --zclient-stream ipc://client.
type zclientFlags struct {
	stream, req, id *string
	connect         *bool
}

func addZClientFlags(fs *flag.FlagSet) zclientFlags {
	return zclientFlags{
		stream:  fs.String("zclient-stream", "", "serve every request from ZHTTP handlers in stream mode at this `base` (Condure's flag: ipc://client means ipc://client-out, -out-stream, -in)"),
		req:     fs.String("zclient-req", "", "serve every request from ZHTTP handlers in REQ mode at this `address` (Condure's flag; handlers use REP)"),
		connect: fs.Bool("zclient-connect", false, "connect the ZHTTP sockets instead of binding them (Condure's flag)"),
		id:      fs.String("id", "", "ZHTTP instance `id`, the from of the gateway's packets (Condure's flag; zero: nanogate)"),
	}
}

// defaultZClient is Condure's default for --zclient-stream and
// --zclient-req.
const defaultZClient = "ipc://client"

// routes is the route the flags make, if any: Condure's mode is the
// --listen suffix (",req" or ",stream"), else stream when
// --zclient-stream is given, else req when --zclient-req is; the mode's
// address defaults to Condure's ipc://client. In stream mode the route
// accepts WebSocket upgrades from any origin, as Condure leaves that to
// the handler.
func (z zclientFlags) routes(listen string) []config.Route {
	_, mode := condureListen(listen)
	if mode == "" && *z.stream != "" {
		mode = "stream"
	}
	if mode == "" && *z.req != "" {
		mode = "req"
	}
	var r config.Route
	switch mode {
	case "stream":
		r = config.ZHTTPFlagRoute(cmp.Or(*z.stream, defaultZClient), "", *z.connect, *z.id)
		r.WebSocket, r.Origins = true, []string{"*"}
	case "req":
		r = config.ZHTTPFlagRoute("", cmp.Or(*z.req, defaultZClient), *z.connect, *z.id)
	default:
		return nil
	}
	return []config.Route{r}
}

// condureListen reads Condure's --listen [ADDR:]PORT[,req|,stream]: a
// bare port is every interface, as in Condure, and the suffix is the mode
// (routes). Anything else is nanogate's host:port, passed on as it is.
func condureListen(s string) (addr, mode string) {
	addr = s
	if a, m, ok := strings.Cut(s, ","); ok && (m == "req" || m == "stream") {
		addr, mode = a, m
	}
	if addr != "" && strings.Trim(addr, "0123456789") == "" {
		addr = ":" + addr
	}
	return addr, mode
}

// zclients holds the ZHTTP sockets, one set per base address, for the life
// of the process: a reload that keeps a base keeps its handlers connected
// and their requests going. Closed by upstreams.Close, after the front end.
type zclients struct {
	mu      sync.Mutex
	streams map[string]*zclient.Stream
	reqs    map[string]*zclient.Req
}

// configureZHTTP makes the hub that stream-mode routes need, before the
// front end starts (a reload adding the first one needs a restart, as
// frames and blastbeat routes do).
func (u *upstreams) configureZHTTP(cfg *config.Config, reload bool) error {
	for _, r := range cfg.Routes {
		if r.Format != config.FormatZHTTP || r.ZHTTP.Stream == "" || u.hub != nil {
			continue
		}
		if reload {
			return errors.New("the first route of format zhttp in stream mode needs a restart (the front end streams its bodies)")
		}
		h, err := hub.New(hub.Config{Logger: u.log})
		if err != nil {
			return err
		}
		u.hub = h
	}
	return nil
}

// openZHTTP makes the upstream of a zhttp route over the sockets of its
// base, made on first use.
func (u *upstreams) openZHTTP(r config.Route) (*upstream, error) {
	z := r.ZHTTP
	c := &u.zc
	c.mu.Lock()
	defer c.mu.Unlock()
	if z.Stream != "" {
		s := c.streams[z.Stream]
		if s == nil {
			var err error
			s, err = zclient.NewStream(zclient.StreamConfig{Base: z.Stream, Connect: z.Connect, InstanceID: z.ID,
				Hub: u.hub, KeepAlive: z.KeepAlive, SessionTimeout: z.SessionTimeout, WebSocket: r.WebSocket, Logger: u.log})
			if err != nil {
				return nil, err
			}
			if c.streams == nil {
				c.streams = map[string]*zclient.Stream{}
			}
			c.streams[z.Stream] = s
			u.log.Info("zhttp stream sockets ready", "base", z.Stream, "connect", z.Connect, "id", z.ID)
		}
		return &upstream{zs: s}, nil
	}
	q := c.reqs[z.Req]
	if q == nil {
		var err error
		q, err = zclient.NewReq(zclient.ReqConfig{Addr: z.Req, Connect: z.Connect, Timeout: r.Timeout,
			MaxInFlight: r.Contexts, MaxResponse: r.MaxReplyBytes, Logger: u.log})
		if err != nil {
			return nil, err
		}
		if c.reqs == nil {
			c.reqs = map[string]*zclient.Req{}
		}
		c.reqs[z.Req] = q
		u.log.Info("zhttp req socket ready", "addr", z.Req, "connect", z.Connect)
	}
	return &upstream{zr: q}, nil
}

// zhttpEndpoints describes a zhttp route for the status page: its sockets'
// base and the requests in flight. How many handlers are connected is not
// known (a PUSH socket does not tell), so one is shown.
func zhttpEndpoints(u *upstream) []admin.EndpointState {
	if u.zs != nil {
		return []admin.EndpointState{{URL: "zhttp stream " + u.zs.Base(), Listen: true, Workers: 1, InFlight: u.zs.Live()}}
	}
	return []admin.EndpointState{{URL: "zhttp req " + u.zr.Addr(), Listen: true, Workers: 1, InFlight: u.zr.InFlight()}}
}

// frameDrops is droppedFrames with what the ZHTTP sockets dropped, as
// "zhttp_" and the reason (summed over sockets).
func (u *upstreams) frameDrops() map[string]uint64 {
	out := u.droppedFrames()
	c := &u.zc
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.streams {
		for k, n := range s.Drops() {
			out["zhttp_"+k] += n
		}
	}
	for _, q := range c.reqs {
		for k, n := range q.Drops() {
			out["zhttp_"+k] += n
		}
	}
	return out
}

// zhttpKey is a zhttp route's pool key: routes with the same one share
// sockets.
func zhttpKey(r config.Route) string { return "zhttp " + r.ZHTTP.Base() }

// closeZHTTP closes every ZHTTP socket: their requests end.
func (u *upstreams) closeZHTTP() {
	c := &u.zc
	c.mu.Lock()
	streams, reqs := c.streams, c.reqs
	c.streams, c.reqs = nil, nil
	c.mu.Unlock()
	for _, s := range streams {
		s.Close()
	}
	for _, q := range reqs {
		q.Close()
	}
}
