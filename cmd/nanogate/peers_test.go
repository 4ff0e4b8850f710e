package main

// End-to-end tests, the workers' side: workers that are not the Go SDK (a
// libnanomsg worker written as mod_nano's are, nanocat), the mod_nano
// compatibility mode, routing, several endpoints on one route, priority failover,
// workers that dial a listening gateway, and the failure policy for
// workers that are missing, silent, late, broken, killed or busy.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// cWorkers holds the C workers built so far, by source name.
var cWorkers sync.Map // name -> *cBuild

type cBuild struct {
	once sync.Once
	path string
	err  error
}

// buildCWorker compiles backend-sdk/c/modnano_worker.c once.
func buildCWorker(t *testing.T) string { return buildC(t, "modnano_worker") }

// buildC compiles backend-sdk/c/NAME.c once per test binary. A missing
// compiler or libnanomsg is a failure, not a skip: CI installs them.
func buildC(t *testing.T, name string) string {
	t.Helper()
	v, _ := cWorkers.LoadOrStore(name, &cBuild{})
	b := v.(*cBuild)
	b.once.Do(func() {
		cc, err := exec.LookPath("cc")
		if err != nil {
			b.err = fmt.Errorf("no C compiler (cc): run `make deps` to install it and libnanomsg-dev: %w", err)
			return
		}
		src := filepath.Join("..", "..", "backend-sdk", "c", name+".c")
		out := filepath.Join(buildDir, name)
		msg, err := exec.Command(cc, "-O2", "-Wall", "-Wextra", "-o", out, src, "-lnanomsg").CombinedOutput()
		switch {
		case err != nil && strings.Contains(string(msg), "nanomsg"):
			b.err = fmt.Errorf("cannot build %s against libnanomsg: run `make deps` (Debian: libnanomsg-dev): %v\n%s", src, err, msg)
		case err != nil:
			b.err = fmt.Errorf("cc %s: %v\n%s", src, err, msg)
		case len(msg) > 0:
			b.err = fmt.Errorf("cc %s: warnings with -Wall -Wextra:\n%s", src, msg)
		default:
			b.path = out
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// TestModNanoCWorker: a libnanomsg worker that replies without
// Content-Length, as mod_nano's sample does, works through the gateway.
func TestModNanoCWorker(t *testing.T) {
	t.Parallel()
	bin := buildCWorker(t)

	t.Run("hello-ipc", func(t *testing.T) {
		t.Parallel()
		ep := ipcURL(t, "c")
		startProc(t, "modnano_worker", bin, ep)
		g := startGateway(t, "--route", "/="+ep, "--timeout", "5s")
		g.waitConnected(t, 0, ep)
		// Several requests on one connection: the gateway must frame a
		// reply that has no Content-Length for its client.
		conn := dialRaw(t, g.addr)
		for i, req := range []string{
			"GET / HTTP/1.1\r\nHost: gw\r\n\r\n",
			"POST /form HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\n\r\na=1",
			"GET /again HTTP/1.1\r\nHost: gw\r\n\r\n",
		} {
			conn.write(t, req)
			resp, body := conn.read(t, strings.Fields(req)[0])
			if resp.StatusCode != 200 || string(body) != "hello world" {
				t.Fatalf("request %d: status %d body %q, want 200 %q", i, resp.StatusCode, body, "hello world")
			}
			checkHeader(t, resp, "Content-Type", "text/plain")
			if resp.ContentLength != int64(len("hello world")) {
				t.Errorf("request %d: Content-Length %d, want %d", i, resp.ContentLength, len("hello world"))
			}
		}
	})

	t.Run("echo-tcp", func(t *testing.T) {
		t.Parallel()
		ep := tcpURL(t)
		startProc(t, "modnano_worker echo", bin, ep, "echo")
		g := startGateway(t, "--route", "/="+ep, "--timeout", "5s")
		g.waitConnected(t, 0, ep)
		c := newClient(t)
		resp, body := get(t, c, g.url+"/some/path?q=1&r=%2F")
		if want := "GET /some/path?q=1&r=%2F HTTP/1.1"; resp.StatusCode != 200 || string(body) != want {
			t.Errorf("status %d body %q, want 200 %q", resp.StatusCode, body, want)
		}
	})
}

// TestNanocat: nanocat --rep answering a fixed message (real CRLFs) is a
// worker too; its replies exercise the gateway's reading of replies that
// no SDK wrote.
func TestNanocat(t *testing.T) {
	t.Parallel()
	nanocat, err := exec.LookPath("nanocat")
	if err != nil {
		t.Fatalf("nanocat not found: run `make deps` (Debian: nanomsg-utils): %v", err)
	}
	for _, tc := range []struct {
		name, reply  string
		status       string // the client's status line, after the version
		body         string
		header, want string // one header to check
	}{
		{"reason-phrase", "HTTP/1.1 200 Fine Thanks\r\nContent-Type: text/plain\r\nX-Peer: nanocat\r\n\r\nhello from nanocat",
			"200 Fine Thanks", "hello from nanocat", "X-Peer", "nanocat"},
		{"http-1.0-repeated-headers", "HTTP/1.0 200 OK\r\nX-A: 1\r\nX-A: 2\r\n\r\nold style",
			"200 OK", "old style", "X-A", "1|2"},
		{"chunked-reply", "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
			"201 Created", "hello world", "Transfer-Encoding", ""},
		{"short-body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
			"502 Bad Gateway", "", "", ""},
		{"not-http", "hello, I am not HTTP",
			"502 Bad Gateway", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ep := ipcURL(t, "nanocat")
			startProc(t, "nanocat", nanocat, "--rep", "--bind", ep, "-D", tc.reply)
			g := startGateway(t, "--route", "/="+ep, "--timeout", "5s")
			g.waitConnected(t, 0, ep)
			c := newClient(t)
			for i := range 2 {
				resp, body := get(t, c, g.url+"/x")
				if resp.Status != tc.status {
					t.Fatalf("request %d: status %q, want %q; body %q", i, resp.Status, tc.status, body)
				}
				if resp.StatusCode == 502 {
					continue
				}
				if string(body) != tc.body {
					t.Errorf("request %d: body %q, want %q", i, body, tc.body)
				}
				if got := strings.Join(resp.Header.Values(tc.header), "|"); got != tc.want {
					t.Errorf("request %d: %s %q, want %q", i, tc.header, got, tc.want)
				}
			}
		})
	}
}

// TestRouting: host routes first, then regex routes, then the longest
// path prefix; a request no route matches is the gateway's own 404.
func TestRouting(t *testing.T) {
	t.Parallel()
	eps := make(map[string]string)
	for _, name := range []string{"host", "api", "v2", "regex"} {
		eps[name] = ipcURL(t, name)
		startWorker(t, "--bind", eps[name], "--name", name)
	}
	// The regex route needs the file; --route adds to the file's routes.
	cfg := writeFile(t, "routes.toml", fmt.Sprintf(`
[[route]]
regex = '^/v[12]/users/[0-9]+$'
timeout = "5s"
endpoints = [%q]
`, eps["regex"]))
	g := startGateway(t, "--config", cfg, "--timeout", "5s",
		"--route", "a.example="+eps["host"],
		"--route", "/api/="+eps["api"],
		"--route", "/api/v2/="+eps["v2"])
	for _, ep := range eps {
		g.waitConnected(t, 0, ep)
	}
	c := newClient(t)
	for _, tc := range []struct{ host, path, worker string }{
		{"a.example", "/anything", "host"},
		{"A.Example:8080", "/api/v2/x", "host"}, // host first; case and port ignored
		{"b.example", "/api/x", "api"},
		{"b.example", "/api/v2/x", "v2"}, // longest prefix
		{"b.example", "/api/v2", "api"},
		{"b.example", "/v1/users/42", "regex"},
		{"b.example", "/v2/users/7", "regex"},
		{"b.example", "/v3/users/7", ""},
		{"b.example", "/v1/users/42/x", ""}, // the regex is anchored
		{"b.example", "/", ""},
		{"b.example", "/apix", ""},
	} {
		req, _ := http.NewRequest("GET", g.url+tc.path, nil)
		req.Host = tc.host
		resp, body := do(t, c, req)
		if tc.worker == "" {
			if resp.StatusCode != 404 || resp.Header.Get("X-Worker") != "" {
				t.Errorf("Host %s %s: status %d X-Worker %q body %q, want the gateway's 404",
					tc.host, tc.path, resp.StatusCode, resp.Header.Get("X-Worker"), body)
			}
			continue
		}
		if want := tc.worker + " " + tc.path; resp.StatusCode != 200 || string(body) != want {
			t.Errorf("Host %s %s: status %d body %q, want 200 %q", tc.host, tc.path, resp.StatusCode, body, want)
		}
	}
}

// TestTwoEndpoints: one route, two endpoints, both get traffic.
func TestTwoEndpoints(t *testing.T) {
	t.Parallel()
	a, b := ipcURL(t, "a"), ipcURL(t, "b")
	startWorker(t, "--bind", a, "--name", "a")
	startWorker(t, "--bind", b, "--name", "b")
	g := startGateway(t, "--route", "/="+a+","+b, "--timeout", "5s")
	g.waitConnected(t, 0, a)
	g.waitConnected(t, 0, b)
	seen := names(t, g, 40)
	if seen["a"] < 10 || seen["b"] < 10 || seen["a"]+seen["b"] != 40 {
		t.Errorf("answers %v, want 40 spread over a and b (at least 10 each)", seen)
	}
}

// TestPriorityFailover: the priority-0 endpoint takes all traffic; when it
// dies the priority-1 endpoint takes over, and when it comes back it takes
// the traffic back.
func TestPriorityFailover(t *testing.T) {
	t.Parallel()
	high, low := ipcURL(t, "high"), ipcURL(t, "low")
	cfg := writeFile(t, "failover.toml", fmt.Sprintf(`
[[route]]
path = "/"
timeout = "5s"
  [[route.endpoint]]
  url = %q
  priority = 1
  [[route.endpoint]]
  url = %q
  priority = 0
`, low, high))
	highArgs := []string{"--bind", high, "--name", "high"}
	w := startWorker(t, highArgs...)
	startWorker(t, "--bind", low, "--name", "low")
	g := startGateway(t, "--config", cfg)
	g.waitConnected(t, 0, high)
	g.waitConnected(t, 0, low)

	if seen := names(t, g, 20); seen["high"] != 20 {
		t.Fatalf("both up: answers %v, want all 20 from high", seen)
	}
	w.kill()
	waitName(t, g, "low", 5*time.Second)
	if seen := names(t, g, 20); seen["low"] != 20 {
		t.Fatalf("high down: answers %v, want all 20 from low", seen)
	}
	startWorker(t, highArgs...)
	waitName(t, g, "high", 5*time.Second)
	if seen := names(t, g, 20); seen["high"] != 20 {
		t.Fatalf("high back: answers %v, want all 20 from high", seen)
	}
}

// TestWorkersDialIn: with mode = "listen" the gateway binds and workers
// dial in, join and leave without a configuration change.
func TestWorkersDialIn(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"ipc", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			ep := endpointURL(t, transport, "in")
			g := startListenGateway(t, ep)
			c := newClient(t)
			if resp, body := get(t, c, g.url+"/name"); resp.StatusCode != 503 {
				t.Errorf("no worker yet: status %d body %q, want 503", resp.StatusCode, body)
			}
			first := startWorker(t, "--dial", ep, "--name", "first")
			g.waitConnected(t, 0, ep)
			if seen := names(t, g, 5); seen["first"] != 5 {
				t.Fatalf("answers %v, want 5 from first", seen)
			}
			mark := g.out.len()
			startWorker(t, "--dial", ep, "--name", "second")
			g.waitConnected(t, mark, ep)
			first.kill()
			waitName(t, g, "second", 5*time.Second)
			if seen := names(t, g, 10); seen["second"] != 10 {
				t.Fatalf("first gone: answers %v, want 10 from second", seen)
			}
		})
	}
}

// TestModNanoCompat: compat = "mod_nano" adds none of the gateway's
// headers, as mod_nano did not.
func TestModNanoCompat(t *testing.T) {
	t.Parallel()
	ep := ipcURL(t, "compat")
	cfg := writeFile(t, "compat.toml", fmt.Sprintf(`
[[route]]
path = "/"
timeout = "5s"
compat = "mod_nano"
endpoints = [%q]
`, ep))
	g, _ := startStack(t, ep, nil, "--config", cfg)
	resp, body := get(t, newClient(t), g.url+"/echo")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	for _, h := range []string{"X-Got-Session", "X-Got-Request-Id", "X-Got-Forwarded-For", "X-Got-Forwarded-Proto"} {
		checkHeader(t, resp, h, "")
	}
}

// TestNoWorker503: a route whose worker is not there answers 503 at once.
func TestNoWorker503(t *testing.T) {
	t.Parallel()
	runNoWorker503(t)
}

func runNoWorker503(t *testing.T, gatewayArgs ...string) {
	g := startGateway(t, append([]string{"--route", "/=" + ipcURL(t, "nobody"), "--timeout", "5s"}, gatewayArgs...)...)
	c := newClient(t)
	for i := range 2 {
		start := time.Now()
		resp, body := get(t, c, g.url+"/name")
		elapsed := time.Since(start)
		if resp.StatusCode != 503 {
			t.Errorf("request %d: status %d, want 503; body %q", i, resp.StatusCode, body)
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("request %d: 503 without Retry-After", i)
		}
		if elapsed > 100*time.Millisecond {
			t.Errorf("request %d: 503 after %v, want it at once (< 100ms)", i, elapsed)
		}
	}
}

// TestSilentWorker504: a worker that never answers costs the route's
// timeout and a 504.
func TestSilentWorker504(t *testing.T) {
	t.Parallel()
	runSilentWorker504(t)
}

func runSilentWorker504(t *testing.T, gatewayArgs ...string) {
	ep := ipcURL(t, "silent")
	g, _ := startStack(t, ep, []string{"--mode", "silent"},
		append([]string{"--route", "/=" + ep, "--timeout", "500ms"}, gatewayArgs...)...)
	c := newClient(t)
	for i := range 2 {
		start := time.Now()
		resp, body := get(t, c, g.url+"/anything")
		elapsed := time.Since(start)
		if resp.StatusCode != 504 {
			t.Errorf("request %d: status %d, want 504; body %q", i, resp.StatusCode, body)
		}
		if elapsed < 400*time.Millisecond || elapsed > 3*time.Second {
			t.Errorf("request %d: 504 after %v, want about the 500ms timeout", i, elapsed)
		}
	}
}

// TestGarbageWorker502: a reply that is not HTTP is a 502, and the gateway
// goes on serving its other routes on the same connection.
func TestGarbageWorker502(t *testing.T) {
	t.Parallel()
	bad, good := ipcURL(t, "garbage"), ipcURL(t, "good")
	startWorker(t, "--bind", bad, "--mode", "garbage")
	startWorker(t, "--bind", good, "--name", "good")
	g := startGateway(t, "--route", "/bad/="+bad, "--route", "/="+good, "--timeout", "5s")
	g.waitConnected(t, 0, bad)
	g.waitConnected(t, 0, good)
	conn := dialRaw(t, g.addr)
	for i := range 2 {
		conn.write(t, "GET /bad/x HTTP/1.1\r\nHost: gw\r\n\r\n")
		if resp, body := conn.read(t, "GET"); resp.StatusCode != 502 {
			t.Errorf("GET /bad/x #%d: status %d, want 502; body %q", i, resp.StatusCode, body)
		}
		conn.write(t, "GET /name HTTP/1.1\r\nHost: gw\r\n\r\n")
		if resp, body := conn.read(t, "GET"); resp.StatusCode != 200 || string(body) != "good" {
			t.Errorf("GET /name #%d after a 502: status %d body %q, want 200 %q", i, resp.StatusCode, body, "good")
		}
	}
}

// TestWorkerKilledMidRequest: a worker killed while it runs a POST costs
// that request a 502 (or 503), at once, and the POST never runs again: not
// on the worker when it comes back, not on another worker of the same
// endpoint (where mangos, with resending on, would send it).
//
// The workers serve one request at a time (--concurrency 1). A resend goes
// out when the gateway learns of the kill, before the 502, so it would
// reach a worker ahead of the GET /name that follows on the same
// connection, and run (and count) before /name is answered: the count read
// after that answer is final. (The test used to sleep for a resend to
// arrive.)
func TestWorkerKilledMidRequest(t *testing.T) {
	t.Parallel()
	t.Run("restarted", func(t *testing.T) {
		t.Parallel()
		ep := ipcURL(t, "slow")
		countFile := filepath.Join(t.TempDir(), "count")
		args := []string{"--bind", ep, "--count-file", countFile, "--name", "slow", "--concurrency", "1"}
		w := startWorker(t, args...)
		g := startGateway(t, "--route", "/="+ep, "--timeout", "10s")
		g.waitConnected(t, 0, ep)
		killMidRequest(t, g, countFile, map[string]*proc{"slow": w})

		// A resend would reach the restarted worker as soon as it connects.
		mark := g.out.len()
		startWorker(t, args...)
		g.waitConnected(t, mark, ep)
		if seen := names(t, g, 1); seen["slow"] != 1 {
			t.Fatalf("after restart: answers %v, want slow", seen)
		}
		if n := countLines(t, countFile); n != 1 {
			t.Errorf("the POST ran %d times, want exactly once", n)
		}
	})
	t.Run("survivor-on-same-endpoint", func(t *testing.T) {
		t.Parallel()
		ep := ipcURL(t, "in")
		countFile := filepath.Join(t.TempDir(), "count")
		cfg := writeFile(t, "in.toml", fmt.Sprintf(`
[[route]]
path = "/"
timeout = "10s"
  [[route.endpoint]]
  url = %q
  mode = "listen"
`, ep))
		g := startGateway(t, "--config", cfg)
		workers := make(map[string]*proc)
		for _, name := range []string{"w1", "w2"} {
			mark := g.out.len()
			workers[name] = startWorker(t, "--dial", ep, "--count-file", countFile, "--name", name, "--concurrency", "1")
			g.waitConnected(t, mark, ep)
		}
		victim := killMidRequest(t, g, countFile, workers)
		survivor := map[string]string{"w1": "w2", "w2": "w1"}[victim]
		if seen := names(t, g, 3); seen[survivor] != 3 {
			t.Errorf("answers %v, want 3 from %s, which was there to take a resend", seen, survivor)
		}
		if n := countLines(t, countFile); n != 1 { // final: a resend ran before the answers
			b, _ := os.ReadFile(countFile)
			t.Errorf("the POST ran %d times, want exactly once:\n%s", n, b)
		}
	})
}

// killMidRequest POSTs /slow-count, kills the worker that runs it (named in
// the count file) and checks the client gets a prompt 502 or 503. It returns
// the name of the killed worker.
func killMidRequest(t *testing.T, g *gateway, countFile string, workers map[string]*proc) string {
	t.Helper()
	c := newClient(t)
	done := postAsync(c, g.url+"/slow-count?ms=5000", "run me once")
	if !pollUntil(5*time.Second, func() bool { return countLines(t, countFile) >= 1 }) {
		t.Fatal("no worker started the request")
	}
	b, err := os.ReadFile(countFile)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Fields(string(b))[0]
	w, ok := workers[name]
	if !ok {
		t.Fatalf("count file names worker %q, not one of ours: %q", name, b)
	}
	killed := time.Now()
	w.kill()
	var r postResult
	select {
	case r = <-done:
	case <-time.After(12 * time.Second):
		t.Fatal("no response 12s after the worker was killed")
	}
	if r.err != nil {
		t.Fatalf("POST: %v", r.err)
	}
	if r.status != 502 && r.status != 503 {
		t.Errorf("status %d, want 502 or 503; body %q", r.status, r.body)
	}
	if d := time.Since(killed); d > 2*time.Second {
		t.Errorf("answered %v after the kill, want at once", d)
	}
	return name
}

// TestBusy503: with every context of the route in use, the next request is
// refused at once with 503 and Retry-After, not queued.
func TestBusy503(t *testing.T) {
	t.Parallel()
	ep := ipcURL(t, "busy")
	countFile := filepath.Join(t.TempDir(), "count")
	cfg := writeFile(t, "busy.toml", fmt.Sprintf(`
[[route]]
path = "/"
timeout = "10s"
contexts = 2
endpoints = [%q]
`, ep))
	g, _ := startStack(t, ep, []string{"--count-file", countFile, "--name", "busy"}, "--config", cfg)
	c := newClient(t)
	var wg sync.WaitGroup
	statuses := make(chan int, 2)
	for range 2 {
		wg.Go(func() {
			resp, err := c.Post(g.url+"/slow-count?ms=1500", "text/plain", nil)
			if err != nil {
				t.Errorf("slow request: %v", err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	if !pollUntil(5*time.Second, func() bool { return countLines(t, countFile) == 2 }) {
		t.Fatal("the two slow requests never both reached the worker")
	}
	start := time.Now()
	resp, body := get(t, c, g.url+"/name")
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("busy answer took %v, want at once", d)
	}
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("status %d Retry-After %q, want 503 with Retry-After; body %q",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("slow request: status %d, want 200", s)
		}
	}
	if resp, body := get(t, c, g.url+"/name"); resp.StatusCode != 200 || string(body) != "busy" {
		t.Errorf("after the slow requests: status %d body %q, want 200 %q", resp.StatusCode, body, "busy")
	}
}

// TestLateReplyDiscarded: a reply that arrives after its request timed out
// is dropped, never given to the next request on the same context.
func TestLateReplyDiscarded(t *testing.T) {
	t.Parallel()
	ep := ipcURL(t, "late")
	// One context, so the second request reuses the first one's.
	cfg := writeFile(t, "late.toml", fmt.Sprintf(`
[[route]]
path = "/"
timeout = "1s"
contexts = 1
endpoints = [%q]
`, ep))
	g, _ := startStack(t, ep, []string{"--name", "late"}, "--config", cfg)
	c := newClient(t)
	// First: times out at 1s; its reply comes at 1.4s, while the second
	// (sent at 1s, answered at 1.7s) waits on the same context.
	if resp, body := get(t, c, g.url+"/sleep?ms=1400"); resp.StatusCode != 504 {
		t.Fatalf("first: status %d body %q, want 504", resp.StatusCode, body)
	}
	if resp, body := get(t, c, g.url+"/sleep?ms=700"); resp.StatusCode != 200 || string(body) != "slept 700 ms\n" {
		t.Errorf("second: status %d body %q, want 200 %q", resp.StatusCode, body, "slept 700 ms\n")
	}
	if resp, body := get(t, c, g.url+"/name"); resp.StatusCode != 200 || string(body) != "late" {
		t.Errorf("third: status %d body %q, want 200 %q", resp.StatusCode, body, "late")
	}
}
