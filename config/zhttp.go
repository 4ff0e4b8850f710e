package config

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// FormatZHTTP routes requests to ZHTTP handlers, the programs written for
// Condure (docs/zhttp.md): the gateway holds Condure's client sockets at
// the route's zhttp_stream or zhttp_req base address.
const FormatZHTTP = "zhttp"

// ZHTTPRoute is the ZHTTP part of a route of format "zhttp". Exactly one
// of Stream and Req is set. Routes naming the same base share its sockets,
// and must then agree on the rest.
type ZHTTPRoute struct {
	// Stream is Condure's --zclient-stream base: ipc://PATH (PATH-out,
	// PATH-out-stream, PATH-in) or tcp://HOST:PORT (PORT to PORT+2).
	// Zero: not stream mode.
	Stream string
	// Req is Condure's --zclient-req address (one DEALER; a handler's REP
	// takes one whole request, answers one whole response). Zero: not REQ
	// mode.
	Req string
	// Connect connects the sockets instead of binding them (Condure's
	// --zclient-connect). Zero: false, the gateway binds, as Condure does.
	Connect bool
	// ID is the gateway's ZHTTP address: the "from" of its packets and the
	// prefix handlers publish answers to (Condure's --id). Zero:
	// "nanogate".
	ID string
	// KeepAlive is how often a handler hears of each live request of its
	// own. Zero: 45s, Condure's.
	KeepAlive time.Duration
	// SessionTimeout ends a request whose handler sent nothing for this
	// long: 502, or a cut body once the response started. Zero: 60s,
	// Condure's.
	SessionTimeout time.Duration
}

// Base is the socket address the route uses, whichever mode.
func (z ZHTTPRoute) Base() string {
	if z.Stream != "" {
		return z.Stream
	}
	return z.Req
}

// zhttpMode describes a zhttp route's sockets for `nanogate check`.
func zhttpMode(z ZHTTPRoute) string {
	mode := "zhttp stream"
	if z.Req != "" {
		mode = "zhttp req"
	}
	if z.Connect {
		return mode + ", connect"
	}
	return mode + ", bind"
}

// checkZHTTPRoute records the problems of a route of format "zhttp".
func checkZHTTPRoute(p *problems, path string, r *Route) {
	z := &r.ZHTTP
	switch {
	case z.Stream == "" && z.Req == "":
		p.addf(join(path, "zhttp_stream"), `format "zhttp" needs zhttp_stream = "ipc://PATH" (Condure's --zclient-stream) or zhttp_req`)
	case z.Stream != "" && z.Req != "":
		p.addf(join(path, "zhttp_req"), "zhttp_stream and zhttp_req are two modes; a route takes one")
	case z.Stream != "":
		checkZHTTPBase(p, join(path, "zhttp_stream"), z.Stream, 2)
	default:
		checkZHTTPBase(p, join(path, "zhttp_req"), z.Req, 0)
	}
	if z.ID == "" {
		z.ID = "nanogate"
	}
	if strings.ContainsAny(z.ID, " \x00") || len(z.ID) > 64 {
		p.addf(join(path, "zhttp_id"), "%q: want 1 to 64 bytes without spaces (handlers address answers to it, then a space)", z.ID)
	}
	if z.KeepAlive == 0 {
		z.KeepAlive = 45 * time.Second
	}
	if z.SessionTimeout == 0 {
		z.SessionTimeout = 60 * time.Second
	}
	positive(p, join(path, "zhttp_keep_alive"), z.KeepAlive)
	positive(p, join(path, "zhttp_session_timeout"), z.SessionTimeout)
	if z.SessionTimeout <= z.KeepAlive {
		p.addf(join(path, "zhttp_session_timeout"), "%v must be longer than zhttp_keep_alive (%v)", z.SessionTimeout, z.KeepAlive)
	}
	if r.Compat != "" {
		p.addf(join(path, "compat"), `mod_nano workers speak format "http", not "zhttp"`)
	}
	if r.WebSocket && z.Req != "" {
		p.addf(join(path, "websocket"), `REQ mode carries no WebSocket (one packet each way); use zhttp_stream`)
	}
	if len(r.Endpoints) > 0 {
		p.addf(join(path, "endpoint"), "a zhttp route has no endpoints: handlers connect to zhttp_stream or zhttp_req")
	}
}

// checkZHTTPBase checks a base address; tcp bases need spare ports after
// the one given (stream mode takes three).
func checkZHTTPBase(p *problems, field, u string, extra int) {
	scheme, addr, ok := strings.Cut(u, "://")
	switch {
	case !ok:
		p.addf(field, `%q has no "://" (want ipc://PATH or tcp://HOST:PORT)`, u)
	case scheme == "ipc":
		if addr == "" {
			p.addf(field, "%q has an empty path", u)
		}
	case scheme == "tcp":
		host, port, err := net.SplitHostPort(addr)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" {
			p.addf(field, "%q: want tcp://HOST:PORT (HOST may be * for every interface)", u)
		} else if perr != nil || n < 1 || n+extra > 65535 {
			p.addf(field, "%q: port %q must be a number from 1 to %d (this mode uses %d ports from it)", u, port, 65535-extra, extra+1)
		}
	default:
		p.addf(field, "unsupported scheme %q (want ipc or tcp, as Condure)", scheme)
	}
}

// checkZHTTP records the problems across zhttp routes: routes that share a
// base share its sockets, so their settings must agree.
func (c *Config) checkZHTTP(p *problems) {
	seen := map[string]int{}
	for i, r := range c.Routes {
		if r.Format != FormatZHTTP || r.ZHTTP.Base() == "" {
			continue
		}
		path := at("route", i)
		if c.Server.UpgradeSocket != "" {
			p.addf(join(path, "format"), `"zhttp" cannot be served with server.upgrade_socket yet: two gateways cannot bind one ZHTTP address`)
		}
		j, ok := seen[r.ZHTTP.Base()]
		if !ok {
			seen[r.ZHTTP.Base()] = i
			continue
		}
		if first := c.Routes[j]; first.ZHTTP != r.ZHTTP || first.WebSocket != r.WebSocket {
			p.addf(join(path, "zhttp_stream"), "shares %s with route %d but not its zhttp and websocket settings", r.ZHTTP.Base(), j+1)
		}
	}
}

// zhttpRoute reads a route's ZHTTP keys.
func (d decoder) zhttpRoute(path string, m map[string]any, z *ZHTTPRoute) {
	z.Stream, _ = d.str(m, path, "zhttp_stream")
	z.Req, _ = d.str(m, path, "zhttp_req")
	z.Connect, _ = d.boolean(m, path, "zhttp_connect")
	z.ID, _ = d.str(m, path, "zhttp_id")
	z.KeepAlive, _ = d.duration(m, path, "zhttp_keep_alive")
	z.SessionTimeout, _ = d.duration(m, path, "zhttp_session_timeout")
}

// ZHTTPFlagRoute is the route Condure's flags make: every request, to the
// handlers at stream (--zclient-stream) or req (--zclient-req).
func ZHTTPFlagRoute(stream, req string, connect bool, id string) Route {
	return Route{Name: "zhttp", Path: "/", Format: FormatZHTTP,
		ZHTTP: ZHTTPRoute{Stream: stream, Req: req, Connect: connect, ID: id}}
}
