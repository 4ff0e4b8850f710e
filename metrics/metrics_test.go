package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/nanogate/nanogate/gateway"
	dto "github.com/prometheus/client_model/go"
)

func fullSources() Sources {
	return Sources{
		Endpoints: func() []Endpoint {
			return []Endpoint{
				{Route: "api", URL: "ipc:///run/api.sock", Workers: 2, InFlight: 3, Requests: 40, Failures: 1},
				{Route: "events", URL: "tcp://10.0.0.2:7000", Workers: 0, InFlight: 0},
			}
		},
		OpenConnections: func() int { return 12 },
		Serving:         func() int { return 5 },
		LiveStreams:     func() int { return 7 },
		DroppedFrames:   func() map[string]uint64 { return map[string]uint64{"overflow": 4, "malformed": 0} },
	}
}

// value is the value of the series name{labels} ("k", "v" pairs), and
// whether it exists.
func value(t *testing.T, m *Metrics, name string, labels ...string) (float64, bool) {
	t.Helper()
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			if has(s, labels) {
				switch {
				case s.Counter != nil:
					return s.Counter.GetValue(), true
				case s.Gauge != nil:
					return s.Gauge.GetValue(), true
				case s.Histogram != nil:
					return float64(s.Histogram.GetSampleCount()), true
				}
			}
		}
	}
	return 0, false
}

func has(s *dto.Metric, labels []string) bool {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	n := 0
	for _, l := range s.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}

func expect(t *testing.T, m *Metrics, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := value(t, m, name, labels...)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
	} else if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func TestSeries(t *testing.T) {
	m := New([]string{"root", "api", "api"}, Sources{})
	for _, x := range exchanges {
		m.Served(x)
	}
	expect(t, m, 2, "nanogate_requests_total", "route", "api", "method", "GET", "code", "2xx")
	expect(t, m, 1, "nanogate_requests_total", "route", "api", "method", "POST", "code", "5xx")
	expect(t, m, 1, "nanogate_requests_total", "route", "none", "method", "other", "code", "4xx")
	expect(t, m, 3, "nanogate_request_duration_seconds", "route", "api")
	expect(t, m, 1, "nanogate_request_duration_seconds", "route", "none")
	expect(t, m, 31, "nanogate_response_bytes_total", "route", "api") // the stream's -1 is skipped
	expect(t, m, 9, "nanogate_response_bytes_total", "route", "none")
	expect(t, m, 1, "nanogate_rejections_total", "reason", "busy")
	expect(t, m, 1, "nanogate_rejections_total", "reason", "no_route")
	// Every series a request may touch exists from the start, at zero.
	expect(t, m, 0, "nanogate_requests_total", "route", "root", "method", "OPTIONS", "code", "1xx")
	expect(t, m, 0, "nanogate_request_duration_seconds", "route", "root")
	for _, r := range gateway.Reasons() {
		if _, ok := value(t, m, "nanogate_rejections_total", "reason", r.String()); !ok {
			t.Errorf("rejections_total{reason=%q} not exported", r)
		}
	}
	if _, ok := value(t, m, "nanogate_rejections_total", "reason", ""); ok {
		t.Error("ReasonNone exported as a rejection")
	}
	// The scrape-time series are absent when their source is.
	for _, name := range []string{"nanogate_workers", "nanogate_open_connections", "nanogate_live_streams", "nanogate_dropped_frames_total"} {
		if _, ok := value(t, m, name); ok {
			t.Errorf("%s exported with no source", name)
		}
	}
}

// TestUnknownRoute: a route New was not told of is counted under its own
// name, not lost.
func TestUnknownRoute(t *testing.T) {
	m := New([]string{"api"}, Sources{})
	m.Served(gateway.Exchange{Route: &gateway.Route{Name: "late"}, Method: []byte("GET"), Status: 204})
	m.Served(gateway.Exchange{Route: &gateway.Route{Name: "late"}, Method: []byte("GET"), Status: 204})
	expect(t, m, 2, "nanogate_requests_total", "route", "late", "method", "GET", "code", "2xx")
	expect(t, m, 0, "nanogate_requests_total", "route", "api", "method", "GET", "code", "2xx")
}

func TestMethodAndStatusClass(t *testing.T) {
	for in, want := range map[string]string{"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT",
		"DELETE": "DELETE", "PATCH": "PATCH", "OPTIONS": "OPTIONS", "get": "other", "PUTS": "other",
		"CONNECT": "other", "": "other", "PROPFIND": "other", "TRACE": "other"} {
		if got := methodNames[methodClass([]byte(in))]; got != want {
			t.Errorf("methodClass(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[int]string{100: "1xx", 101: "1xx", 200: "2xx", 304: "3xx", 404: "4xx",
		499: "4xx", 500: "5xx", 599: "5xx", 0: "1xx", 99: "1xx", 600: "5xx", 999: "5xx"} {
		if got := classNames[statusClass(in)]; got != want {
			t.Errorf("statusClass(%d) = %s, want %s", in, got, want)
		}
	}
}

func TestSources(t *testing.T) {
	m := New(nil, fullSources())
	api, events := []string{"route", "api", "url", "ipc:///run/api.sock"}, []string{"route", "events", "url", "tcp://10.0.0.2:7000"}
	expect(t, m, 2, "nanogate_workers", api...)
	expect(t, m, 3, "nanogate_in_flight", api...)
	expect(t, m, 40, "nanogate_endpoint_requests_total", api...)
	expect(t, m, 1, "nanogate_endpoint_failures_total", api...)
	expect(t, m, 0, "nanogate_workers", events...)
	expect(t, m, 12, "nanogate_open_connections")
	expect(t, m, 5, "nanogate_serving")
	expect(t, m, 7, "nanogate_live_streams")
	expect(t, m, 4, "nanogate_dropped_frames_total", "reason", "overflow")
	expect(t, m, 0, "nanogate_dropped_frames_total", "reason", "malformed")
}

// TestHandler: the registry over HTTP in the text format, with the Go
// runtime's and the process's series, and nothing from the global registry.
func TestHandler(t *testing.T) {
	m := New([]string{"api"}, fullSources())
	m.Served(exchanges[0])
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`nanogate_requests_total{code="2xx",method="GET",route="api"} 1`,
		`nanogate_request_duration_seconds_bucket{route="api",le="0.0005"} 1`,
		`nanogate_rejections_total{reason="header_too_large"} 0`,
		`nanogate_workers{route="events",url="tcp://10.0.0.2:7000"} 0`,
		"go_goroutines ", "process_resident_memory_bytes ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestTotals(t *testing.T) {
	m := New([]string{"root", "api"}, Sources{})
	for _, x := range exchanges {
		m.Served(x)
	}
	got := m.Totals()
	if want := map[string]uint64{"1xx": 0, "2xx": 2, "3xx": 0, "4xx": 1, "5xx": 1}; fmt.Sprint(got.Requests) != fmt.Sprint(want) {
		t.Errorf("Totals().Requests = %v, want %v", got.Requests, want)
	}
	if len(got.Rejections) != len(gateway.Reasons()) || got.Rejections["busy"] != 1 || got.Rejections["no_route"] != 1 || got.Rejections["timeout"] != 0 {
		t.Errorf("Totals().Rejections = %v", got.Rejections)
	}
}

// TestConcurrent: requests on known and new routes while scrapes run, for
// the race detector; no count is lost.
func TestConcurrent(t *testing.T) {
	m := New([]string{"api"}, fullSources())
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		route := &gateway.Route{Name: fmt.Sprintf("r%d", w%3)}
		wg.Go(func() {
			for range each {
				m.Served(gateway.Exchange{Route: route, Method: []byte("GET"), Status: 200, Bytes: 1})
				m.Served(gateway.Exchange{Route: api, Method: []byte("GET"), Status: 200, Bytes: 1})
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := m.reg.Gather(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	expect(t, m, workers*each, "nanogate_requests_total", "route", "api", "method", "GET", "code", "2xx")
	if got := m.Totals().Requests["2xx"]; got != 2*workers*each {
		t.Errorf("Totals 2xx = %d, want %d", got, 2*workers*each)
	}
}
