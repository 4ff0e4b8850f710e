package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestEjectionEndToEnd: a route with a good, a garbage-answering and a
// silent worker stops answering 502 and 504 once the bad two are ejected,
// and the admin metrics say so.
func TestEjectionEndToEnd(t *testing.T) {
	t.Parallel()
	good, garbage, silent := ipcURL(t, "good"), ipcURL(t, "garbage"), ipcURL(t, "silent")
	startWorker(t, "--bind", good)
	startWorker(t, "--bind", garbage, "--mode", "garbage")
	startWorker(t, "--bind", silent, "--mode", "silent")
	cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(`
[admin]
listen = "127.0.0.1:0"
[[route]]
path = "/"
timeout = "200ms"
eject_failures = 2
eject_time = "30s"
endpoints = [%q, %q, %q]
`, good, garbage, silent))
	g := startGateway(t, "--config", cfg)
	for _, u := range []string{good, garbage, silent} {
		g.waitConnected(t, 0, u)
	}
	c := newClient(t)
	statuses := func(n int) map[int]int {
		out := map[int]int{}
		for range n {
			resp, err := c.Get(g.url + "/hello")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			out[resp.StatusCode]++
		}
		return out
	}
	first := statuses(12)
	if first[502] == 0 || first[504] == 0 {
		t.Fatalf("before ejection the bad workers should show: %v", first)
	}
	g.waitFrom(t, 0, "two ejections", 10*time.Second, func(l string) bool {
		return strings.Contains(l, `msg="endpoint ejected"`) && strings.Contains(l, silent)
	})
	g.waitFrom(t, 0, "garbage ejected", 10*time.Second, func(l string) bool {
		return strings.Contains(l, `msg="endpoint ejected"`) && strings.Contains(l, garbage)
	})
	if after := statuses(30); after[200] != 30 {
		t.Fatalf("after ejection: %v, want 30 of 200", after)
	}
	line := g.waitFrom(t, 0, "admin listening", startTimeout, adminAddr.MatchString)
	resp, err := http.Get("http://" + adminAddr.FindStringSubmatch(line)[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	metrics := string(body)
	for _, u := range []string{garbage, silent} {
		if want := fmt.Sprintf(`nanogate_endpoint_ejected{route="/",url=%q} 1`, u); !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestActiveHealthCheck: a worker that is connected but stuck is ejected by
// the route's health probes before any client request reaches it, so no
// client waits for its timeout.
func TestActiveHealthCheck(t *testing.T) {
	t.Parallel()
	good, stuck := ipcURL(t, "good"), ipcURL(t, "stuck")
	startWorker(t, "--bind", good)
	startWorker(t, "--bind", stuck, "--mode", "silent")
	cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(`
[[route]]
path = "/"
timeout = "300ms"
eject_failures = 2
eject_time = "30s"
health_path = "/status/200"
health_interval = "100ms"
endpoints = [%q, %q]
`, good, stuck))
	g := startGateway(t, "--config", cfg)
	g.waitFrom(t, 0, "the stuck worker ejected by its probes", 10*time.Second, func(l string) bool {
		return strings.Contains(l, `msg="endpoint ejected"`) && hasField(l, "endpoint", stuck)
	})
	c := newClient(t)
	for i := range 30 {
		resp, err := c.Get(g.url + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 { // the stuck worker would have made it a 504
			t.Fatalf("request %d: %d, want 200 from the healthy worker", i, resp.StatusCode)
		}
	}
}
