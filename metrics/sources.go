package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Sources are read at scrape time, never on the request path. Each is
// optional: a nil func exports no series for it. They are funcs, not
// bridge or hub types, so that the caller adapts its pools here and this
// package stays below them.
type Sources struct {
	// Endpoints lists every endpoint of every route, with its counters.
	Endpoints func() []Endpoint
	// OpenConnections is the number of client connections open (fasthttp's
	// Server.GetOpenConnectionsCount).
	OpenConnections func() int
	// Serving is the number of client connections being served now
	// (fasthttp's Server.GetCurrentConcurrency).
	Serving func() int
	// LiveStreams is the number of open streams of frames routes (hub.Hub.Live).
	LiveStreams func() int
	// DroppedFrames is the number of frames the hub dropped so far, by
	// reason (hub.Hub.Drops). Report every reason, zeros too, so each
	// series exists from the start.
	DroppedFrames func() map[string]uint64
}

// Endpoint is one worker address of a route, as a scrape sees it.
type Endpoint struct {
	Route    string
	URL      string
	Workers  int    // connected now
	InFlight int    // requests in flight now; on a frames route, open streams
	Requests uint64 // sent to it so far; zero on a frames route
	Failures uint64 // of those, failed there
	// Ejected tells that the endpoint sits out after failing (passive
	// health); Ejections counts the times it was. Zero on frames routes.
	Ejected   bool
	Ejections uint64
}

// register adds a collector for each source that is set.
func (s Sources) register(reg *prometheus.Registry) {
	gauge := func(f func() int, name, help string) {
		if f != nil {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
				func() float64 { return float64(f()) }))
		}
	}
	gauge(s.OpenConnections, "nanogate_open_connections", "Client connections open.")
	gauge(s.Serving, "nanogate_serving", "Client connections being served now.")
	gauge(s.LiveStreams, "nanogate_live_streams", "Open streams of frames routes.")
	if s.Endpoints != nil {
		reg.MustRegister(endpointCollector(s.Endpoints))
	}
	if s.DroppedFrames != nil {
		reg.MustRegister(dropCollector(s.DroppedFrames))
	}
}

var (
	endpointLabels = []string{"route", "url"}
	descWorkers    = prometheus.NewDesc("nanogate_workers",
		"Workers connected to an endpoint.", endpointLabels, nil)
	descInFlight = prometheus.NewDesc("nanogate_in_flight",
		"Requests in flight at an endpoint; on a frames route, open streams.", endpointLabels, nil)
	descEndpointRequests = prometheus.NewDesc("nanogate_endpoint_requests_total",
		"Requests sent to an endpoint.", endpointLabels, nil)
	descEndpointFailures = prometheus.NewDesc("nanogate_endpoint_failures_total",
		"Requests that failed at an endpoint: worker lost, timed out or busy.", endpointLabels, nil)
	descEjected = prometheus.NewDesc("nanogate_endpoint_ejected",
		"1 while an endpoint sits out after failing requests (passive health), else 0.", endpointLabels, nil)
	descEjections = prometheus.NewDesc("nanogate_endpoint_ejections_total",
		"Times an endpoint was ejected after failing requests.", endpointLabels, nil)
	descDropped = prometheus.NewDesc("nanogate_dropped_frames_total",
		"Frames from workers the hub dropped, by reason.", []string{"reason"}, nil)
)

// endpointCollector calls its func once per scrape for all four endpoint
// series, rather than once per series as a GaugeFunc each would.
type endpointCollector func() []Endpoint

func (endpointCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descWorkers
	ch <- descInFlight
	ch <- descEndpointRequests
	ch <- descEndpointFailures
	ch <- descEjected
	ch <- descEjections
}

func (f endpointCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range f() {
		ch <- prometheus.MustNewConstMetric(descWorkers, prometheus.GaugeValue, float64(e.Workers), e.Route, e.URL)
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(e.InFlight), e.Route, e.URL)
		ch <- prometheus.MustNewConstMetric(descEndpointRequests, prometheus.CounterValue, float64(e.Requests), e.Route, e.URL)
		ch <- prometheus.MustNewConstMetric(descEndpointFailures, prometheus.CounterValue, float64(e.Failures), e.Route, e.URL)
		ejected := 0.0
		if e.Ejected {
			ejected = 1
		}
		ch <- prometheus.MustNewConstMetric(descEjected, prometheus.GaugeValue, ejected, e.Route, e.URL)
		ch <- prometheus.MustNewConstMetric(descEjections, prometheus.CounterValue, float64(e.Ejections), e.Route, e.URL)
	}
}

type dropCollector func() map[string]uint64

func (dropCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descDropped }

func (f dropCollector) Collect(ch chan<- prometheus.Metric) {
	for reason, n := range f() {
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(n), reason)
	}
}
