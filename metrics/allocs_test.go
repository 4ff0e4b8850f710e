package metrics

import (
	"testing"
	"time"

	"github.com/nanogate/nanogate/gateway"
)

// exchanges are what a front end reports: a matched route, a stream, a
// rejection without a route.
var (
	api       = &gateway.Route{Name: "api"}
	exchanges = []gateway.Exchange{
		{Route: api, Method: []byte("GET"), Status: 200, Bytes: 11, Elapsed: 300 * time.Microsecond},
		{Route: api, Method: []byte("POST"), Status: 503, Bytes: 20, Elapsed: time.Millisecond, Reason: gateway.ReasonBusy},
		{Route: api, Method: []byte("GET"), Status: 200, Bytes: -1, Elapsed: 2 * time.Millisecond},
		{Method: []byte("BREW"), Status: 404, Bytes: 9, Elapsed: 50 * time.Microsecond, Reason: gateway.ReasonNoRoute},
	}
	// late is a route New is not told of: its first request adds its
	// series (AllocsPerRun's warm-up run), the rest cost nothing.
	late = gateway.Exchange{Route: &gateway.Route{Name: "late"}, Method: []byte("DELETE"), Status: 204, Bytes: 0}
)

// TestServedZeroAllocs is the observer's allocation budget on the request
// path: zero, for every kind of exchange, with every source set.
func TestServedZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	m := New([]string{"root", "api"}, fullSources())
	for _, x := range append(exchanges, late) {
		allocs := testing.AllocsPerRun(1000, func() { m.Served(x) })
		if allocs != 0 {
			t.Errorf("Served(%s %d) made %v allocations, want 0", x.Method, x.Status, allocs)
		}
	}
}

// BenchmarkServed is the observer's cost per request, the front end's
// request path excluded.
func BenchmarkServed(b *testing.B) {
	m := New([]string{"root", "api"}, Sources{})
	x := exchanges[0]
	b.ReportAllocs()
	for b.Loop() {
		m.Served(x)
	}
}

// BenchmarkServedParallel is the same with every core serving one route:
// its counters are shared, so their cache lines move between cores.
func BenchmarkServedParallel(b *testing.B) {
	m := New([]string{"root", "api"}, Sources{})
	x := exchanges[0]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Served(x)
		}
	})
}
