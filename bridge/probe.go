package bridge

import (
	"sync"
	"time"
)

// Active health: where a worker declares a health path, the pool sends
// each endpoint a probe request every interval, as HAProxy's `option
// httpchk` and Envoy's active health checks do. A failed probe counts as
// a failed request (so Health.Failures of them eject the endpoint, before
// a client request fails there), a failed probe while the endpoint sits out
// keeps it out, and a good probe brings it back at once instead of after
// its ejection time. Passive ejection sees only what clients send; the
// probe also sees a worker that is idle because it is broken.

// Probe shapes active health checks; the zero value turns them off.
type Probe struct {
	// Msg is the request sent to each endpoint (cmd/nanogate encodes a GET
	// of the route's health_path in the route's format; the pool knows no
	// format). Empty: no active checks.
	Msg []byte
	// OK tells a healthy reply (a 2xx status). Zero: Config.Check.
	OK       func(reply []byte) bool
	Interval time.Duration // between probes of one endpoint; zero: 5s
}

func (p Probe) interval() time.Duration {
	if p.Interval <= 0 {
		return 5 * time.Second
	}
	return p.Interval
}

// prober runs one goroutine per endpoint, owned by the pool: Close stops
// and waits for them.
type prober struct {
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func (p *Pool) startProbes(c Probe) {
	if len(c.Msg) == 0 {
		return
	}
	if c.OK == nil {
		c.OK = p.check
	}
	p.probes = &prober{stop: make(chan struct{})}
	for _, g := range p.groups {
		for _, ep := range g {
			p.probes.wg.Add(1)
			go p.probeLoop(ep, c)
		}
	}
}

func (p *Pool) probeLoop(ep *endpoint, c Probe) {
	defer p.probes.wg.Done()
	tick := time.NewTicker(c.interval())
	defer tick.Stop()
	var buf []byte
	for {
		select {
		case <-p.probes.stop:
			return
		case <-tick.C:
		}
		if ep.workers() <= 0 {
			continue // nothing to probe; picking skips it anyway
		}
		reply, err := ep.roundTrip(buf[:0], c.Msg)
		buf = reply[:0]
		select {
		case <-p.probes.stop:
			return // ended by Close: the answer says nothing of the worker
		default:
		}
		ok := err == nil && (c.OK == nil || c.OK(reply))
		switch {
		case err == ErrNoWorker || err == ErrBusy || err == ErrClosed:
			// Gone between the look and the send, or every slot taken by
			// clients: busy is not sick (as for passive health).
		case ok:
			p.observe(ep, false)
		case ep.health.ejected(time.Now().UnixNano()):
			p.extendEjection(ep)
		default:
			p.log.Info("health probe failed", "endpoint", ep.URL, "err", errText(err))
			p.observe(ep, true)
		}
	}
}

// extendEjection keeps an ejected endpoint out for its current ejection
// time from now: its probe still fails, so probation would only fail
// client requests.
func (p *Pool) extendEjection(ep *endpoint) {
	h := &ep.health
	d := p.health.ejectFor(max(h.ejections.Load()-1, 0))
	until := time.Now().Add(d).UnixNano()
	if u := h.until.Load(); u != 0 && u < until {
		h.until.CompareAndSwap(u, until)
	}
}

// signal tells the probes to stop; wait waits until they have. Both do
// nothing when the pool has no probes.
func (pr *prober) signal() {
	if pr != nil {
		pr.once.Do(func() { close(pr.stop) })
	}
}

func (pr *prober) wait() {
	if pr != nil {
		pr.wg.Wait()
	}
}

func errText(err error) string {
	if err == nil {
		return "unhealthy reply"
	}
	return err.Error()
}
