package bridge

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Passive health: an endpoint whose requests keep failing (its worker lost
// mid-request, no reply in time, a reply that is not one) is ejected, as
// Envoy's outlier detection does: it takes no new request for a while,
// then gets traffic again as a probe. A failure after its return ejects it
// again for twice as long, up to a limit; a success makes it healthy. A
// busy endpoint (every slot taken) is overloaded, not sick, and a missing
// worker is already skipped: neither counts.
//
// Without it, a route with a good, a garbage-answering and a silent
// endpoint answered 200, 502 and 504 in turn forever, and a stuck worker
// kept its share of the traffic.

// Health shapes the ejection of failing endpoints. Every zero value is
// usable.
type Health struct {
	Failures int           // consecutive failures that eject; zero: 5; negative: never eject
	EjectFor time.Duration // first ejection; it doubles with each ejection in a row; zero: 1s
	MaxEject time.Duration // longest ejection; zero: 30s
}

func (h Health) failures() int32 {
	if h.Failures == 0 {
		return 5
	}
	return int32(h.Failures)
}

func (h Health) ejectFor(n int32) time.Duration {
	d := h.EjectFor
	if d <= 0 {
		d = time.Second
	}
	limit := h.MaxEject
	if limit <= 0 {
		limit = 30 * time.Second
	}
	for range min(n, 16) {
		d *= 2
	}
	return min(d, limit)
}

// health is one endpoint's record.
type health struct {
	fails     atomic.Int32 // consecutive failures
	until     atomic.Int64 // UnixNano the current ejection ends; zero: not ejected
	ejections atomic.Int32 // ejections in a row, for the growing interval
	total     atomic.Uint64
}

// ejected reports whether the endpoint sits out now.
func (h *health) ejected(now int64) bool {
	u := h.until.Load()
	return u != 0 && now < u
}

// observe records the outcome of one request on ep: a success makes it
// healthy, the threshold of failures in a row ejects it, and one failure
// while it is back on probation ejects it again.
func (p *Pool) observe(ep *endpoint, failed bool) {
	h := &ep.health
	if !failed {
		if h.fails.Load() != 0 {
			h.fails.Store(0)
		}
		if u := h.until.Load(); u != 0 && h.until.CompareAndSwap(u, 0) {
			h.ejections.Store(0)
			p.ejected.Add(-1)
			p.log.Info("endpoint healthy again", "endpoint", ep.URL)
		}
		return
	}
	limit := p.health.failures()
	if limit < 0 {
		return
	}
	until := h.until.Load()
	if until != 0 && time.Now().UnixNano() < until {
		return // requests sent before the ejection, failing as it sits out
	}
	probation := until != 0 // ejected before, back, and not yet healthy again
	if !probation && h.fails.Add(1) < limit {
		return
	}
	h.fails.Store(0)
	n := h.ejections.Add(1)
	d := p.health.ejectFor(n - 1)
	if h.until.Swap(time.Now().Add(d).UnixNano()) == 0 {
		p.ejected.Add(1)
	}
	h.total.Add(1)
	p.log.Warn("endpoint ejected", "endpoint", ep.URL, "for", d, "in_a_row", n, slog.Int("after_failures", int(limit)))
}
