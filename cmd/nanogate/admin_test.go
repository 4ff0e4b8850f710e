package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var adminAddr = regexp.MustCompile(`msg="admin listening" addr=(\S+)`)

// TestAdmin: the admin listener of a real gateway: readiness follows the
// worker, metrics count the requests, the status page names the route.
func TestAdmin(t *testing.T) {
	t.Parallel()
	ep := ipcURL(t, "admin")
	g := startGateway(t, "--admin", "127.0.0.1:0", "--route", "/="+ep)
	line := g.waitFrom(t, 0, "admin listening", startTimeout, adminAddr.MatchString)
	base := "http://" + adminAddr.FindStringSubmatch(line)[1]
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/livez"); code != 200 {
		t.Fatalf("/livez %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "route /: no worker connected") {
		t.Fatalf("/readyz with no worker: %d %q", code, body)
	}
	startWorker(t, "--bind", ep)
	g.waitConnected(t, 0, ep)
	if code, body := get("/readyz"); code != 200 {
		t.Fatalf("/readyz with a worker: %d %q", code, body)
	}
	for range 3 {
		resp, err := http.Get(g.url + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, _ := http.Get(g.url + "/missing-route-is-fine")
	resp.Body.Close()
	_, metrics := get("/metrics")
	for _, want := range []string{
		`nanogate_requests_total{code="2xx",method="GET",route="/"} 4`,
		`nanogate_workers{route="/",url="` + ep + `"} 1`,
		`nanogate_endpoint_requests_total{route="/",url="` + ep + `"} 4`,
		`nanogate_rejections_total{reason="no_worker"} 0`,
		`nanogate_open_connections`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", metrics)
	}
	_, page := get("/")
	if !strings.Contains(page, ep) || !strings.Contains(page, "nanogate") {
		t.Fatalf("status page does not name the endpoint:\n%.2000s", page)
	}
}
