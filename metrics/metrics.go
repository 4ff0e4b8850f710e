// Package metrics exports what the gateway does as Prometheus metrics, on
// a registry of its own so that nothing else in the process (a library
// registering on the global one) leaks into the gateway's /metrics.
//
// Metrics is a gateway.Observer. Served runs on the request path, so it
// adds no allocation: every labelled child it may touch is made in New,
// and a request only picks one by index (route by name, method by a byte
// switch, status by class) and bumps it. Everything else (endpoint state,
// connections, streams, drops) is read at scrape time from funcs the
// caller gives in Sources, so it costs the request path nothing, and this
// package needs to import neither bridge nor hub.
//
// Series, all prefixed nanogate_:
//
//	requests_total{route,method,code}      counter; code is the class, "2xx"
//	request_duration_seconds{route}        histogram, 100µs to 30s; a stream's ends at its head
//	response_bytes_total{route}            counter; streams (length unknown) are not counted
//	rejections_total{reason}               counter, every gateway.Reason from the start
//	workers{route,url}                     gauge, workers connected to an endpoint
//	in_flight{route,url}                   gauge, requests in flight (or open streams)
//	endpoint_requests_total{route,url}     counter
//	endpoint_failures_total{route,url}     counter
//	open_connections                       gauge, client connections open
//	serving                                gauge, client connections being served now
//	live_streams                           gauge, open streams of frames routes
//	dropped_frames_total{reason}           counter, frames from workers the hub dropped
//
// plus the Go runtime's go_* and the process's process_* series.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/nanogate/nanogate/gateway"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// noRoute is the route label of requests no route matched (404s, and
// requests too malformed to route).
const noRoute = "none"

// Method classes. The label set is closed so that a client sending made-up
// methods cannot create series.
const (
	methodGet = iota
	methodHead
	methodPost
	methodPut
	methodDelete
	methodPatch
	methodOptions
	methodOther
	numMethods
)

var methodNames = [numMethods]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"}

// Status classes, 1xx to 5xx.
const numClasses = 5

var classNames = [numClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// durationBuckets span a cached reply over loopback (~100µs) to the
// route timeout's default (30s), about three buckets per decade.
var durationBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// series are one route's children, made once.
type series struct {
	requests [numMethods][numClasses]prometheus.Counter
	duration prometheus.Observer
	bytes    prometheus.Counter
}

// Metrics is the gateway's metrics; its zero value is not usable, call New.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytes    *prometheus.CounterVec

	// routes maps a route name to its series. It is replaced, never
	// changed, so Served reads it with one atomic load and no lock; a name
	// New was not given is added under mu (see lookup).
	routes atomic.Pointer[map[string]*series]
	mu     sync.Mutex
	none   *series

	rejections []prometheus.Counter // indexed by gateway.Reason; nil at ReasonNone
}

// New registers the gateway's series for routeNames, every one exported
// at zero from the start (a rate over a series that appears with its first
// request misses that request), and the collectors of s.
func New(routeNames []string, s Sources) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nanogate_requests_total",
		Help: "Requests answered, by route, method and status class.",
	}, []string{"route", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "nanogate_request_duration_seconds",
		Help:    "Time from a request read to its response handed to the connection (a stream's head).",
		Buckets: durationBuckets,
	}, []string{"route"})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nanogate_response_bytes_total",
		Help: "Response body bytes sent, by route; streams are not counted.",
	}, []string{"route"})
	rejections := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nanogate_rejections_total",
		Help: "Requests the gateway answered itself instead of a worker, by reason.",
	}, []string{"reason"})
	m.reg.MustRegister(m.requests, m.duration, m.bytes, rejections,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.register(m.reg)

	reasons := gateway.Reasons()
	m.rejections = make([]prometheus.Counter, int(reasons[len(reasons)-1])+1)
	for _, r := range reasons {
		m.rejections[r] = rejections.WithLabelValues(r.String())
	}

	m.none = m.newSeries(noRoute)
	routes := map[string]*series{}
	for _, name := range routeNames {
		if routes[name] == nil {
			routes[name] = m.newSeries(name)
		}
	}
	m.routes.Store(&routes)
	return m
}

func (m *Metrics) newSeries(route string) *series {
	s := &series{
		duration: m.duration.WithLabelValues(route),
		bytes:    m.bytes.WithLabelValues(route),
	}
	for i, method := range methodNames {
		for j, class := range classNames {
			s.requests[i][j] = m.requests.WithLabelValues(route, method, class)
		}
	}
	return s
}

// Served counts x. It allocates nothing (TestServedZeroAllocs) and takes
// no lock but for the first request of a route New was not told of.
func (m *Metrics) Served(x gateway.Exchange) {
	s := m.none
	if x.Route != nil {
		s = m.lookup(x.Route.Name)
	}
	s.requests[methodClass(x.Method)][statusClass(x.Status)].Inc()
	s.duration.Observe(x.Elapsed.Seconds())
	if x.Bytes > 0 {
		s.bytes.Add(float64(x.Bytes))
	}
	if x.Reason != gateway.ReasonNone && int(x.Reason) < len(m.rejections) {
		m.rejections[x.Reason].Inc()
	}
}

// lookup returns the series of route name. A name missing from New's list
// (a wiring slip) is added rather than dropped or lumped with "none": the
// count stays right, and route names come from the configuration, so they
// are few.
func (m *Metrics) lookup(name string) *series {
	if s := (*m.routes.Load())[name]; s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.routes.Load()
	if s := old[name]; s != nil {
		return s
	}
	routes := make(map[string]*series, len(old)+1)
	for k, v := range old {
		routes[k] = v
	}
	s := m.newSeries(name)
	routes[name] = s
	m.routes.Store(&routes)
	return s
}

// methodClass picks the method's label by length, then bytes, so that no
// string is made from the request's slice.
func methodClass(m []byte) int {
	switch len(m) {
	case 3:
		if string(m) == "GET" {
			return methodGet
		}
		if string(m) == "PUT" {
			return methodPut
		}
	case 4:
		if string(m) == "POST" {
			return methodPost
		}
		if string(m) == "HEAD" {
			return methodHead
		}
	case 5:
		if string(m) == "PATCH" {
			return methodPatch
		}
	case 6:
		if string(m) == "DELETE" {
			return methodDelete
		}
	case 7:
		if string(m) == "OPTIONS" {
			return methodOptions
		}
	}
	return methodOther
}

// statusClass is the index of status's class. A status outside 100-599
// cannot leave fasthttp; should one reach us it is clamped rather than
// given a series of its own.
func statusClass(status int) int {
	return min(max(status/100, 1), numClasses) - 1
}

// Handler serves the registry in Prometheus's exposition formats. A
// collector that fails (a source that panics, say) costs its own series,
// not the whole scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg, // counts its own errors as promhttp_metric_handler_errors_total
		ErrorHandling: promhttp.ContinueOnError,
	})
}
