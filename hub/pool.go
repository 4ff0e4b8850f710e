package hub

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/nanogate/nanogate/internal/sp"
)

// Endpoint is one worker address of a frames route.
type Endpoint struct {
	URL      string
	Listen   bool // bind and let workers dial in; zero: dial a worker that binds
	Priority int  // lower is preferred; zero: 0
}

// PoolConfig shapes a Pool.
type PoolConfig struct {
	Name      string
	Endpoints []Endpoint
	Logger    *slog.Logger // zero: the hub's
}

// Pool is the PUSH side of one frames route: a socket per endpoint, and
// the choice of a worker for each new stream.
type Pool struct {
	hub    *Hub
	groups [][]*sp.Push // by ascending priority
	eps    []Endpoint   // in the same order, flattened
}

// NewPool opens every endpoint of c; dialled ones connect in the
// background, so a worker that is not up yet is not an error.
func (h *Hub) NewPool(c PoolConfig) (*Pool, error) {
	if len(c.Endpoints) == 0 {
		return nil, errors.New("hub: pool " + c.Name + " has no endpoint")
	}
	log := c.Logger
	if log == nil {
		log = h.log
	}
	log = log.With("route", c.Name)
	eps := append([]Endpoint(nil), c.Endpoints...)
	sort.SliceStable(eps, func(i, j int) bool { return eps[i].Priority < eps[j].Priority })
	p := &Pool{hub: h}
	for i, e := range eps {
		push, err := sp.NewPush(sp.LinkConfig{URL: e.URL, Listen: e.Listen, Logger: log.With("endpoint", e.URL)})
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("endpoint %s: %w", e.URL, err)
		}
		if i == 0 || e.Priority != eps[i-1].Priority {
			p.groups = append(p.groups, nil)
		}
		g := len(p.groups) - 1
		p.groups[g] = append(p.groups[g], push)
		p.eps = append(p.eps, e)
	}
	return p, nil
}

// Open starts stream num of session sid on the least loaded worker of the
// best priority group that has one (Hub.Open).
func (p *Pool) Open(sid [16]byte, num uint32) (*Stream, error) { return p.hub.Open(p, sid, num) }

// Pick returns the worker connection with the fewest streams in the first
// group that has one, never skip, or nil.
func (p *Pool) Pick(skip Worker) Worker {
	var not *sp.Peer
	if w, ok := skip.(pushWorker); ok {
		not = w.Peer
	}
	for _, g := range p.groups {
		var best *sp.Peer
		for _, push := range g {
			pe := push.PickExcept(not)
			if pe == nil || pe == not {
				continue
			}
			if best == nil || pe.Load() < best.Load() {
				best = pe
			}
		}
		if best != nil {
			return pushWorker{best}
		}
	}
	return nil
}

// Workers is the number of connected workers over every endpoint.
func (p *Pool) Workers() int {
	n := 0
	for _, g := range p.groups {
		for _, push := range g {
			n += push.Peers()
		}
	}
	return n
}

// EndpointStats is one endpoint's state, for metrics and the status page.
type EndpointStats struct {
	URL      string
	Listen   bool
	Priority int
	Workers  int // connected now
	Streams  int // open streams pinned to its workers
}

// Stats reports every endpoint, in priority order.
func (p *Pool) Stats() []EndpointStats {
	var out []EndpointStats
	i := 0
	for _, g := range p.groups {
		for _, push := range g {
			e := p.eps[i]
			i++
			out = append(out, EndpointStats{URL: e.URL, Listen: e.Listen, Priority: e.Priority,
				Workers: push.Peers(), Streams: push.Load()})
		}
	}
	return out
}

// Close closes every socket; open streams see their worker lost.
func (p *Pool) Close() error {
	for _, g := range p.groups {
		for _, push := range g {
			push.Close()
		}
	}
	return nil
}
