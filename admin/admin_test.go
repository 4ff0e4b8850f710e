package admin

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nanogate/nanogate/gateway"
	"github.com/nanogate/nanogate/metrics"
)

// serve runs a Server on a loopback port and returns its base URL; the
// test's cleanup shuts it down and checks that Serve returned nil.
func serve(t *testing.T, c Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(c)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve after Shutdown: %v, want nil", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestLivez(t *testing.T) {
	url := serve(t, Config{Ready: func() []string { return []string{"not ready"} }})
	resp, body := get(t, url+"/livez")
	if resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("GET /livez: %d %q, want 200 \"ok\" even when not ready", resp.StatusCode, body)
	}
}

func TestReadyz(t *testing.T) {
	var problems []string
	url := serve(t, Config{Ready: func() []string { return problems }})
	resp, body := get(t, url+"/readyz")
	if resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("ready: GET /readyz: %d %q", resp.StatusCode, body)
	}
	problems = []string{"route api: no worker connected", "route events: no worker connected"}
	resp, body = get(t, url+"/readyz")
	want := "route api: no worker connected\nroute events: no worker connected\n"
	if resp.StatusCode != 503 || body != want {
		t.Fatalf("not ready: GET /readyz: %d %q, want 503 %q", resp.StatusCode, body, want)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}

	resp, body = get(t, serve(t, Config{})+"/readyz")
	if resp.StatusCode != 200 {
		t.Fatalf("no Ready func: GET /readyz: %d %q, want 200", resp.StatusCode, body)
	}
}

// TestMetrics serves the real metrics.Metrics after a few requests.
func TestMetrics(t *testing.T) {
	m := metrics.New([]string{"api"}, metrics.Sources{
		Endpoints: func() []metrics.Endpoint {
			return []metrics.Endpoint{{Route: "api", URL: "ipc:///run/api.sock", Workers: 1}}
		},
		LiveStreams: func() int { return 3 },
	})
	api := &gateway.Route{Name: "api"}
	m.Served(gateway.Exchange{Route: api, Method: []byte("GET"), Status: 200, Bytes: 5, Elapsed: time.Millisecond})
	m.Served(gateway.Exchange{Route: api, Method: []byte("GET"), Status: 503, Reason: gateway.ReasonNoWorker})
	m.Served(gateway.Exchange{Method: []byte("GET"), Status: 404, Reason: gateway.ReasonNoRoute})
	url := serve(t, Config{Metrics: m.Handler()})
	resp, body := get(t, url+"/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`nanogate_requests_total{code="2xx",method="GET",route="api"} 1`,
		`nanogate_requests_total{code="5xx",method="GET",route="api"} 1`,
		`nanogate_requests_total{code="4xx",method="GET",route="none"} 1`,
		`nanogate_request_duration_seconds_count{route="api"} 2`,
		`nanogate_response_bytes_total{route="api"} 5`,
		`nanogate_rejections_total{reason="no_worker"} 1`,
		`nanogate_rejections_total{reason="busy"} 0`,
		`nanogate_workers{route="api",url="ipc:///run/api.sock"} 1`,
		`nanogate_live_streams 3`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	resp, _ = get(t, serve(t, Config{})+"/metrics")
	if resp.StatusCode != 404 {
		t.Errorf("no Metrics handler: GET /metrics: %d, want 404", resp.StatusCode)
	}
}

func TestPprof(t *testing.T) {
	url := serve(t, Config{})
	resp, body := get(t, url+"/debug/pprof/")
	if resp.StatusCode != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("GET /debug/pprof/: %d %.200q", resp.StatusCode, body)
	}
	resp, body = get(t, url+"/debug/pprof/goroutine?debug=1")
	if resp.StatusCode != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("GET /debug/pprof/goroutine: %d %.200q", resp.StatusCode, body)
	}
	resp, _ = get(t, url+"/debug/pprof/cmdline")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /debug/pprof/cmdline: %d", resp.StatusCode)
	}
}

// fakeSnapshot has two routes, one of each format, and an endpoint with
// no worker connected.
func fakeSnapshot() Snapshot {
	return Snapshot{
		Version: "v1.2.3-test",
		Listen:  "0.0.0.0:8080",
		Started: time.Now().Add(-90 * time.Minute),
		Routes: []RouteState{
			{Name: "api", Match: "prefix /api/", Format: "http", Endpoints: []EndpointState{
				{URL: "ipc:///run/nanogate/api.sock", Listen: true, Workers: 2, InFlight: 1, Requests: 1200, Failures: 3},
				{URL: "tcp://10.0.0.7:5555", Workers: 0, Requests: 17, Failures: 17},
			}},
			{Name: "events", Match: "host example.com, regex ^/events/", Format: "frames", Endpoints: []EndpointState{
				{URL: "ipc:///run/nanogate/events.sock", Listen: true, Workers: 1, InFlight: 4},
			}},
		},
		Requests:      map[string]uint64{"1xx": 0, "2xx": 1180, "3xx": 0, "4xx": 9, "5xx": 20},
		Rejections:    map[string]uint64{"no_route": 9, "no_worker": 17, "busy": 0},
		LiveStreams:   4,
		DroppedFrames: map[string]uint64{"overflow": 2, "malformed": 0},
	}
}

// TestStatusPage checks the page as served: HTML, every route and
// endpoint, the readiness problems, and names escaped.
func TestStatusPage(t *testing.T) {
	snap := fakeSnapshot()
	snap.Routes[1].Name = "<script>alert(1)</script>"
	url := serve(t, Config{Snapshot: func() Snapshot { return snap },
		Ready: func() []string { return []string{"route api: endpoint tcp://10.0.0.7:5555 has no worker"} }})
	resp, body := get(t, url+"/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"v1.2.3-test", "0.0.0.0:8080", "1h30m0s", "api", "prefix /api/",
		"ipc:///run/nanogate/api.sock", "tcp://10.0.0.7:5555", "no worker connected", "1180",
		"no_worker", "overflow", "has no worker", `content="5"`, "&lt;script&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("a route name reached the page unescaped")
	}
	if resp, _ := get(t, url+"/nope"); resp.StatusCode != 404 {
		t.Errorf("GET /nope: %d, want 404", resp.StatusCode)
	}
}

// TestStatusPageEmpty: with no Snapshot func the page still renders, with
// the uptime counted from New.
func TestStatusPageEmpty(t *testing.T) {
	resp, body := get(t, serve(t, Config{})+"/")
	if resp.StatusCode != 200 || !strings.Contains(body, "No route.") || !strings.Contains(body, "up for") {
		t.Fatalf("GET /: %d %.300q", resp.StatusCode, body)
	}
}
