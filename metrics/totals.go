package metrics

import (
	"github.com/nanogate/nanogate/gateway"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Totals is what the request counters say now, summed over routes and
// methods, for a status page that has no Prometheus to ask.
type Totals struct {
	Requests   map[string]uint64 // by status class, "1xx" to "5xx", every class present
	Rejections map[string]uint64 // by gateway.Reason name, every reason present
}

// Totals reads the counters, 40 children per route, on every call; that
// is a status page view's cost rather than the request path's: Served
// keeps no running sums for it, which would be more atomic adds on
// counters every core shares.
func (m *Metrics) Totals() Totals {
	t := Totals{Requests: make(map[string]uint64, numClasses), Rejections: map[string]uint64{}}
	for _, c := range classNames {
		t.Requests[c] = 0
	}
	all := []*series{m.none}
	for _, s := range *m.routes.Load() {
		all = append(all, s)
	}
	for _, s := range all {
		for i := range s.requests {
			for j, c := range s.requests[i] {
				t.Requests[classNames[j]] += read(c)
			}
		}
	}
	for r, c := range m.rejections {
		if c != nil {
			t.Rejections[gateway.Reason(r).String()] = read(c)
		}
	}
	return t
}

func read(c prometheus.Counter) uint64 {
	var out dto.Metric
	if c.Write(&out) != nil {
		return 0
	}
	return uint64(out.GetCounter().GetValue())
}
