package gateway

import (
	"bytes"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nanogate/nanogate/hub"
)

// Upstream carries encoded requests to workers; bridge.Pool is one. The
// reply is appended to dst and the result aliases dst when it has room.
// safe tells that the method is safe (RFC 9110 section 9.2.1), so the
// upstream may resend it if it is configured to.
type Upstream interface {
	RoundTrip(dst, msg []byte, safe bool) ([]byte, error)
}

// Streams opens streams of session frames: hub.Pool over nanomsg PUSH
// pipes is one; ZeroMQ back ends (BlastBeat nodes, ZHTTP handlers) are
// others, each a hub.Picker over its own transport.
type Streams interface {
	Open(sid [16]byte, num uint32) (*hub.Stream, error)
}

// Route maps a host and a path to an Upstream (format http) or to Streams
// (format frames).
type Route struct {
	Name  string
	Host  string         // exact host, case-insensitive, port ignored; zero: any host
	Path  string         // path prefix; zero: "/"
	Regex *regexp.Regexp // used instead of Path when set, like mod_nano's LocationMatch
	// Forward adds X-Forwarded-For, X-Forwarded-Proto, X-Request-Id and
	// X-Nanogate-Session; zero: off, which is mod_nano's behaviour.
	Forward  bool
	Upstream Upstream

	// Streams, when set, makes the route one of format frames: requests
	// become streams of session frames (docs/PROTOCOL.md) instead of
	// Upstream round trips, and the session id is always sent.
	Streams Streams
	// Timeout bounds the wait for a stream's response head; zero: 30s.
	Timeout time.Duration
	// StreamIdle ends a stream with no frame for this long; zero: 60s.
	StreamIdle time.Duration
	// WebSocket accepts upgrades (frames routes only).
	WebSocket bool
	// Origins is the WebSocket Origin allow-list ("*" for any); zero: the
	// request's own host only, or no Origin.
	Origins []string
	// MaxMessageBytes caps a client's WebSocket message (close 1009);
	// zero: 1 MiB.
	MaxMessageBytes int64
}

// Router is the route table, ordered once at start-up: routes of a named
// host before host-less ones; within each, regex routes in configuration
// order, then prefixes longest first (nginx's order: an explicit pattern
// beats a prefix).
type Router struct {
	routes []*Route
}

// NewRouter copies routes, fills their zero fields and orders them.
func NewRouter(routes []Route) *Router {
	r := &Router{}
	for i := range routes {
		rt := routes[i]
		rt.Host = strings.ToLower(rt.Host)
		if rt.Path == "" && rt.Regex == nil {
			rt.Path = "/"
		}
		rt.Timeout = orDefault(rt.Timeout, 30*time.Second)
		rt.StreamIdle = orDefault(rt.StreamIdle, 60*time.Second)
		rt.MaxMessageBytes = orDefault(rt.MaxMessageBytes, 1<<20)
		r.routes = append(r.routes, &rt)
	}
	rank := func(rt *Route) int {
		n := 0
		if rt.Host == "" {
			n += 2
		}
		if rt.Regex == nil {
			n++
		}
		return n
	}
	sort.SliceStable(r.routes, func(i, j int) bool {
		a, b := r.routes[i], r.routes[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		return len(a.Path) > len(b.Path)
	})
	return r
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Match returns the route for host (as sent, possibly with a port) and the
// normalized path, or nil.
func (r *Router) Match(host, path []byte) *Route {
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && !bytes.HasSuffix(host, []byte("]")) {
		host = host[:i]
	}
	for _, rt := range r.routes {
		if rt.Host != "" && !bytes.EqualFold(host, []byte(rt.Host)) {
			continue
		}
		if rt.Regex != nil {
			if rt.Regex.Match(path) {
				return rt
			}
			continue
		}
		if bytes.HasPrefix(path, []byte(rt.Path)) {
			return rt
		}
	}
	return nil
}
