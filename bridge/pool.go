package bridge

import (
	"errors"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"
)

// Config shapes a Pool. Every zero value is usable.
type Config struct {
	Name            string
	Endpoints       []Endpoint
	Timeout         time.Duration // deadline to send and to get the reply; zero: 30s
	Contexts        int           // in-flight limit per endpoint; zero: 64
	MaxReplyBytes   int           // larger replies close the connection (502); zero: 64 MiB
	RetryIdempotent bool          // retry an idempotent request once when its worker is lost; zero: never resend
	Health          Health        // ejection of failing endpoints; zero: see Health
	Probe           Probe         // active health checks; zero: none
	// Check tells a reply from garbage, for Health (the pool itself knows
	// no format): cmd/nanogate gives the http format's status line test.
	// Zero: every reply is good.
	Check  func(reply []byte) bool
	Logger *slog.Logger // zero: slog.Default()

	// mangos makes tcp:// and ipc:// go through mangos too, for the
	// benchmark that compares the two engines; unexported, a test knob.
	mangos bool
}

func (c *Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 30 * time.Second
	}
	return c.Timeout
}

func (c *Config) contexts() int {
	if c.Contexts <= 0 {
		return 64
	}
	return c.Contexts
}

func (c *Config) maxReplyBytes() int {
	if c.MaxReplyBytes <= 0 {
		return 64 << 20
	}
	return c.MaxReplyBytes
}

// Pool sends requests to the endpoints of one route.
type Pool struct {
	groups  [][]*endpoint // by ascending priority
	retry   bool
	next    atomic.Uint32 // rotates ties between equally loaded endpoints
	health  Health
	check   func([]byte) bool
	ejected atomic.Int32 // endpoints ejected now: while zero, pick reads no clock
	probes  *prober      // nil without active checks
	log     *slog.Logger
}

// NewPool opens every endpoint of c. Dialled endpoints connect in the
// background, so a worker that is not up yet is not an error.
func NewPool(c Config) (*Pool, error) {
	if len(c.Endpoints) == 0 {
		return nil, errors.New("bridge: pool " + c.Name + " has no endpoint")
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("route", c.Name)
	eps := append([]Endpoint(nil), c.Endpoints...)
	sort.SliceStable(eps, func(i, j int) bool { return eps[i].Priority < eps[j].Priority })

	p := &Pool{retry: c.RetryIdempotent, health: c.Health, check: c.Check, log: log}
	for i, e := range eps {
		ep, err := openEndpoint(e, &c, log)
		if err != nil {
			p.Close()
			return nil, err
		}
		if i == 0 || e.Priority != eps[i-1].Priority {
			p.groups = append(p.groups, nil)
		}
		g := len(p.groups) - 1
		p.groups[g] = append(p.groups[g], ep)
	}
	p.startProbes(c.Probe)
	return p, nil
}

// RoundTrip sends msg to a worker and appends its reply to dst, which the
// result aliases when it has room. safe tells that the request may run
// twice without harm (a safe method); it is sent again to another endpoint,
// once, if its worker is lost and the pool was configured to retry. A
// request that was never sent (its endpoint's last worker left between the
// choice and the send) goes to another endpoint whatever its method.
func (p *Pool) RoundTrip(dst, msg []byte, safe bool) ([]byte, error) {
	var failed *endpoint
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		ep := p.pick(failed)
		if ep == nil {
			break
		}
		var reply []byte
		reply, err = ep.roundTrip(dst, msg)
		ep.requests.Add(1)
		if err != nil && err != ErrNoWorker {
			ep.failures.Add(1)
		}
		switch err {
		case nil:
			p.observe(ep, p.check != nil && !p.check(reply[len(dst):]))
		case ErrWorkerLost, ErrTimeout:
			p.observe(ep, true)
		}
		switch {
		case err == nil:
			return reply, nil
		case err == ErrNoWorker:
		case err == ErrWorkerLost && safe && p.retry:
		default:
			return dst, &EndpointError{URL: ep.URL, Err: err}
		}
		failed = ep
	}
	if failed == nil {
		return dst, ErrNoWorker
	}
	return dst, &EndpointError{URL: failed.URL, Err: err}
}

// EndpointError names the endpoint a request failed on, for the logs.
type EndpointError struct {
	URL string
	Err error
}

func (e *EndpointError) Error() string { return e.URL + ": " + e.Err.Error() }
func (e *EndpointError) Unwrap() error { return e.Err }

// pick returns the least loaded endpoint with a connected worker in the
// first group that has one, never skip, or nil. Ejected endpoints sit out
// while another endpoint can serve; when every one is ejected, they serve
// all the same (a 502 from a sick worker beats a 503 for every request).
func (p *Pool) pick(skip *endpoint) *endpoint {
	var now int64
	if p.ejected.Load() > 0 {
		now = time.Now().UnixNano()
		if ep := p.pickFrom(skip, now); ep != nil {
			return ep
		}
	}
	return p.pickFrom(skip, 0)
}

// pickFrom is pick with ejected endpoints skipped when now is not zero.
func (p *Pool) pickFrom(skip *endpoint, now int64) *endpoint {
	for _, g := range p.groups {
		var best *endpoint
		bestLoad := int(^uint(0) >> 1)
		start := int(p.next.Add(1))
		for i := range g {
			ep := g[(start+i)%len(g)]
			if ep == skip || ep.workers() <= 0 || now != 0 && ep.health.ejected(now) {
				continue
			}
			if load := ep.inFlight(); load < bestLoad {
				best, bestLoad = ep, load
			}
		}
		if best != nil {
			return best
		}
	}
	return nil
}

// Workers reports how many workers are connected to each endpoint, in
// priority order, for health checks and `nanogate check`.
func (p *Pool) Workers() map[string]int {
	out := make(map[string]int)
	for _, g := range p.groups {
		for _, ep := range g {
			out[ep.URL] = ep.workers()
		}
	}
	return out
}

// EndpointStats is one endpoint's state, for metrics and the status page.
type EndpointStats struct {
	URL       string
	Listen    bool
	Priority  int
	Workers   int    // connected now
	InFlight  int    // requests in flight now
	Requests  uint64 // sent to it so far
	Failures  uint64 // of those, failed there: lost, timed out or refused busy
	Ejected   bool   // sitting out after failing (Health)
	Ejections uint64 // times ejected so far
}

// Stats reports every endpoint, in priority order.
func (p *Pool) Stats() []EndpointStats {
	var out []EndpointStats
	for _, g := range p.groups {
		for _, ep := range g {
			out = append(out, EndpointStats{URL: ep.URL, Listen: ep.Listen, Priority: ep.Priority,
				Workers: ep.workers(), InFlight: ep.inFlight(),
				Requests: ep.requests.Load(), Failures: ep.failures.Load(),
				Ejected: ep.health.ejected(time.Now().UnixNano()), Ejections: ep.health.total.Load()})
		}
	}
	return out
}

// Close closes every socket; requests in flight end with ErrClosed. The
// probes are waited for once the sockets are closed, which ends a probe
// waiting on a silent worker instead of waiting out its timeout.
func (p *Pool) Close() error {
	p.probes.signal()
	var errs []error
	for _, g := range p.groups {
		for _, ep := range g {
			if err := ep.close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	p.probes.wait()
	return errors.Join(errs...)
}
