package main

// End-to-end tests over real processes and sockets, the client's side: the
// HTTP behaviour a client sees through the gateway and a Go SDK worker, the
// request limits, graceful shutdown and `nanogate check`. The worker side
// (other workers, routing, failing workers, balancing, failover) is in
// peers_test.go.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHTTP runs the client-visible behaviour through one gateway and one SDK
// worker, over ipc:// and over tcp://.
func TestHTTP(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"ipc", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			ep := endpointURL(t, transport, "http")
			// 256 contexts on both sides: the concurrency test keeps up to
			// 200 requests in flight, over the default of 64.
			cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(`
[[route]]
path = "/"
timeout = "10s"
contexts = 256
endpoints = [%q]
`, ep))
			g, _ := startStack(t, ep, []string{"--concurrency", "256"}, "--config", cfg)
			runHTTPCases(t, g, newClient(t))
		})
	}
}

// runHTTPCases runs the client-visible cases against g, a gateway in front
// of an SDK test worker on route "/"; zmqfront_test.go runs them through
// the ZMQ_STREAM front end too.
func runHTTPCases(t *testing.T, g *gateway, c *http.Client) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"get", func(t *testing.T) { testGet(t, g, c) }},
		{"forwarded-headers", func(t *testing.T) { testForwarded(t, g, c) }},
		{"post-5MiB-binary", func(t *testing.T) { testPostBinary(t, g, c) }},
		{"chunked-raw", func(t *testing.T) { testChunkedRaw(t, g) }},
		{"chunked-expect-continue", func(t *testing.T) { testExpectContinue(t, g) }},
		{"chunked-client", func(t *testing.T) { testChunkedClient(t, g, c) }},
		{"keep-alive-1000", func(t *testing.T) { testKeepAlive(t, g) }},
		{"pipelined-10", func(t *testing.T) { testPipelined(t, g) }},
		{"concurrent-200", func(t *testing.T) { testConcurrent(t, g) }},
		{"set-cookie", func(t *testing.T) { testCookies(t, g, c) }},
		{"statuses", func(t *testing.T) { testStatuses(t, g, c) }},
		{"server-header", func(t *testing.T) { testServerHeader(t, g, c) }},
	} {
		t.Run(tc.name, tc.f)
	}
}

func testGet(t *testing.T, g *gateway, c *http.Client) {
	resp, body := get(t, c, g.url+"/echo?x=1&y=%20")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200; body %q", resp.StatusCode, body)
	}
	if len(body) != 0 {
		t.Errorf("body %q, want empty", body)
	}
	checkHeader(t, resp, "X-Got-Method", "GET")
	checkHeader(t, resp, "X-Got-Uri", "/echo?x=1&y=%20")
	checkHeader(t, resp, "X-Got-Forwarded-For", "127.0.0.1")
	checkHeader(t, resp, "X-Got-Forwarded-Proto", "http")
	checkHeader(t, resp, "X-Got-Content-Length", "")
	if s := resp.Header.Get("X-Got-Session"); !hexID.MatchString(s) {
		t.Errorf("worker saw X-Nanogate-Session %q, want 32 lowercase hex", s)
	}
	if id := resp.Header.Get("X-Got-Request-Id"); id == "" {
		t.Error("worker saw no X-Request-Id")
	}
}

// testForwarded checks that a client cannot spoof the headers the gateway
// adds, and that its own X-Forwarded-For and sane X-Request-Id are kept.
func testForwarded(t *testing.T, g *gateway, c *http.Client) {
	const spoofed = "ffffffffffffffffffffffffffffffff"
	req, _ := http.NewRequest("GET", g.url+"/echo", nil)
	req.Header.Set("X-Nanogate-Session", spoofed)
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("X-Request-Id", "client-id-42")
	resp, body := do(t, c, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200; body %q", resp.StatusCode, body)
	}
	if s := resp.Header.Get("X-Got-Session"); s == spoofed || !hexID.MatchString(s) {
		t.Errorf("worker saw X-Nanogate-Session %q, want the gateway's own", s)
	}
	checkHeader(t, resp, "X-Got-Forwarded-Proto", "http")
	checkHeader(t, resp, "X-Got-Forwarded-For", "203.0.113.7, 127.0.0.1")
	checkHeader(t, resp, "X-Got-Request-Id", "client-id-42")

	// A request id that is not safe to log is replaced.
	req, _ = http.NewRequest("GET", g.url+"/echo", nil)
	req.Header.Set("X-Request-Id", "bad id; rm -rf /")
	resp, _ = do(t, c, req)
	if id := resp.Header.Get("X-Got-Request-Id"); id == "" || strings.Contains(id, "bad") {
		t.Errorf("worker saw X-Request-Id %q, want the gateway's own", id)
	}
}

func testPostBinary(t *testing.T, g *gateway, c *http.Client) {
	payload := binaryBody(5<<20, 1)
	req, _ := http.NewRequest("POST", g.url+"/echo", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, body := do(t, c, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200; body %.200q", resp.StatusCode, body)
	}
	checkHeader(t, resp, "X-Got-Method", "POST")
	checkHeader(t, resp, "X-Got-Content-Length", strconv.Itoa(len(payload)))
	if resp.ContentLength != int64(len(payload)) {
		t.Errorf("Content-Length %d, want %d", resp.ContentLength, len(payload))
	}
	if !bytes.Equal(body, payload) {
		t.Errorf("echoed body differs: %d bytes, want %d; first difference at %d",
			len(body), len(payload), firstDiff(body, payload))
	}
}

// testChunkedRaw sends a chunked upload as curl does, chunk sizes in hex,
// with an extension and a trailer, and expects the worker to see it
// de-chunked with a Content-Length.
func testChunkedRaw(t *testing.T, g *gateway) {
	big := binaryBody(70000, 2)
	var want, wire bytes.Buffer
	wire.WriteString("POST /echo HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n")
	for _, chunk := range [][]byte{[]byte("hello, "), big, {0, 0, 0}, []byte("world")} {
		fmt.Fprintf(&wire, "%x\r\n", len(chunk))
		wire.Write(chunk)
		wire.WriteString("\r\n")
		want.Write(chunk)
	}
	wire.WriteString("0\r\n\r\n")
	conn := dialRaw(t, g.addr)
	conn.write(t, wire.String())
	resp, body := conn.read(t, "POST")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200; body %.200q", resp.StatusCode, body)
	}
	checkHeader(t, resp, "X-Got-Transfer-Encoding", "")
	checkHeader(t, resp, "X-Got-Content-Length", strconv.Itoa(want.Len()))
	if !bytes.Equal(body, want.Bytes()) {
		t.Errorf("echoed body differs: %d bytes, want %d; first difference at %d",
			len(body), want.Len(), firstDiff(body, want.Bytes()))
	}
}

// testExpectContinue uploads as curl does a body of unknown size: chunked,
// with Expect: 100-continue, the body sent only after the interim 100.
func testExpectContinue(t *testing.T, g *gateway) {
	conn := dialRaw(t, g.addr)
	conn.write(t, "POST /echo HTTP/1.1\r\nHost: gw\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n"+
		"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
	if resp, body := conn.read(t, "POST"); resp.StatusCode != 100 {
		t.Fatalf("status %d, want the interim 100 Continue; body %q", resp.StatusCode, body)
	}
	conn.write(t, "6\r\nchunk1\r\n7\r\n-chunk2\r\n0\r\n\r\n")
	resp, body := conn.read(t, "POST")
	if resp.StatusCode != 200 || string(body) != "chunk1-chunk2" {
		t.Fatalf("status %d body %q, want 200 %q", resp.StatusCode, body, "chunk1-chunk2")
	}
	checkHeader(t, resp, "X-Got-Content-Length", "13")
	checkHeader(t, resp, "X-Got-Transfer-Encoding", "")
}

// testChunkedClient uploads a body of unknown length with net/http, which
// sends it chunked.
func testChunkedClient(t *testing.T, g *gateway, c *http.Client) {
	payload := binaryBody(1<<20+17, 3)
	body := io.NopCloser(io.MultiReader(bytes.NewReader(payload[:1000]), bytes.NewReader(payload[1000:])))
	req, _ := http.NewRequest("PUT", g.url+"/echo", body)
	req.ContentLength = -1
	resp, got := do(t, c, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200; body %.200q", resp.StatusCode, got)
	}
	checkHeader(t, resp, "X-Got-Method", "PUT")
	checkHeader(t, resp, "X-Got-Content-Length", strconv.Itoa(len(payload)))
	if !bytes.Equal(got, payload) {
		t.Errorf("echoed body differs: %d bytes, want %d", len(got), len(payload))
	}
}

// testKeepAlive sends 1,000 requests one after the other on one connection:
// one session id throughout, a new request id each time.
func testKeepAlive(t *testing.T, g *gateway) {
	const n = 1000
	conn := dialRaw(t, g.addr)
	session := ""
	ids := make(map[string]int, n)
	for i := range n {
		conn.write(t, fmt.Sprintf("GET /echo?n=%d HTTP/1.1\r\nHost: gw\r\n\r\n", i))
		resp, body := conn.read(t, "GET")
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("request %d: status %d close %v, want 200 keep-alive; body %q", i, resp.StatusCode, resp.Close, body)
		}
		if uri := resp.Header.Get("X-Got-Uri"); uri != fmt.Sprintf("/echo?n=%d", i) {
			t.Fatalf("request %d: worker saw %q", i, uri)
		}
		s := resp.Header.Get("X-Got-Session")
		if i == 0 {
			session = s
			if !hexID.MatchString(s) {
				t.Fatalf("session %q, want 32 hex", s)
			}
		} else if s != session {
			t.Fatalf("request %d: session %q, want %q as for request 0", i, s, session)
		}
		id := resp.Header.Get("X-Got-Request-Id")
		if prev, dup := ids[id]; dup || id == "" {
			t.Fatalf("request %d: request id %q, already used by request %d", i, id, prev)
		}
		ids[id] = i
	}
}

// testPipelined writes 10 requests in one write and expects 10 responses in
// the same order.
func testPipelined(t *testing.T, g *gateway) {
	const n = 10
	var wire strings.Builder
	for i := range n {
		if i%2 == 0 {
			fmt.Fprintf(&wire, "GET /echo?i=%d HTTP/1.1\r\nHost: gw\r\n\r\n", i)
		} else {
			b := fmt.Sprintf("body %d", i)
			fmt.Fprintf(&wire, "POST /echo?i=%d HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n%s", i, len(b), b)
		}
	}
	conn := dialRaw(t, g.addr)
	conn.write(t, wire.String())
	session := ""
	for i := range n {
		method, want := "GET", ""
		if i%2 == 1 {
			method, want = "POST", fmt.Sprintf("body %d", i)
		}
		resp, body := conn.read(t, method)
		if resp.StatusCode != 200 {
			t.Fatalf("response %d: status %d, want 200; body %q", i, resp.StatusCode, body)
		}
		checkHeader(t, resp, "X-Got-Uri", fmt.Sprintf("/echo?i=%d", i))
		checkHeader(t, resp, "X-Got-Method", method)
		if string(body) != want {
			t.Errorf("response %d: body %q, want %q", i, body, want)
		}
		if i == 0 {
			session = resp.Header.Get("X-Got-Session")
		}
		checkHeader(t, resp, "X-Got-Session", session)
	}
}

// testConcurrent opens 200 connections at once, each sending a few
// requests; every reply must be its own request's, and every connection
// its own session.
func testConcurrent(t *testing.T, g *gateway) {
	const conns, perConn = 200, 5
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		sessions = make(map[string]int)
		start    = make(chan struct{})
	)
	for ci := range conns {
		conn := dialRaw(t, g.addr) // all connected before the first request
		wg.Go(func() {
			<-start
			session := ""
			for r := range perConn {
				b := fmt.Sprintf("conn %d request %d", ci, r)
				fmt.Fprintf(conn, "POST /echo HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
				resp, err := http.ReadResponse(conn.br, &http.Request{Method: "POST"})
				if err != nil {
					t.Errorf("conn %d request %d: %v", ci, r, err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil || resp.StatusCode != 200 || string(body) != b {
					t.Errorf("conn %d request %d: status %d body %q err %v, want 200 %q",
						ci, r, resp.StatusCode, body, err, b)
					return
				}
				s := resp.Header.Get("X-Got-Session")
				if r == 0 {
					session = s
				} else if s != session {
					t.Errorf("conn %d request %d: session %q, want %q", ci, r, s, session)
				}
			}
			mu.Lock()
			sessions[session]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if !t.Failed() && len(sessions) != conns {
		t.Errorf("%d distinct sessions over %d connections, want one each", len(sessions), conns)
	}
}

func testCookies(t *testing.T, g *gateway, c *http.Client) {
	resp, body := get(t, c, g.url+"/cookies")
	if resp.StatusCode != 200 || string(body) != "three cookies\n" {
		t.Fatalf("status %d body %q, want 200 %q", resp.StatusCode, body, "three cookies\n")
	}
	got := resp.Header.Values("Set-Cookie")
	want := []string{"a=1; Path=/", "b=2; Path=/; HttpOnly", "a=3; Path=/sub"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Set-Cookie %q, want three headers in the worker's order %q", got, want)
	}
}

func testStatuses(t *testing.T, g *gateway, c *http.Client) {
	for _, code := range []int{201, 204, 301, 404, 500} {
		resp, body := get(t, c, fmt.Sprintf("%s/status/%d", g.url, code))
		if resp.StatusCode != code {
			t.Errorf("GET /status/%d: status %d, want %d", code, resp.StatusCode, code)
			continue
		}
		checkHeader(t, resp, "X-Status", strconv.Itoa(code))
		want := fmt.Sprintf("status %d body\n", code)
		if code == 204 {
			want = ""
		} else {
			checkHeader(t, resp, "Content-Type", "text/plain; charset=utf-8")
		}
		if string(body) != want {
			t.Errorf("GET /status/%d: body %q, want %q", code, body, want)
		}
		if code == 301 {
			checkHeader(t, resp, "Location", "/moved/here")
		}
	}
	// HEAD: the worker announces the length of the body it does not send.
	req, _ := http.NewRequest("HEAD", g.url+"/status/200", nil)
	resp, body := do(t, c, req)
	if want := int64(len("status 200 body\n")); resp.StatusCode != 200 || resp.ContentLength != want || len(body) != 0 {
		t.Errorf("HEAD /status/200: status %d Content-Length %d body %q, want 200, %d, none",
			resp.StatusCode, resp.ContentLength, body, want)
	}
}

// testServerHeader: the worker's Server header passes through, and the
// gateway adds none of its own (frontend/server.go: "Pass the worker's
// headers as it wrote them: ... no Server header of our own").
func testServerHeader(t *testing.T, g *gateway, c *http.Client) {
	resp, body := get(t, c, g.url+"/server")
	if resp.StatusCode != 200 || string(body) != "server header set\n" {
		t.Fatalf("GET /server: status %d body %q", resp.StatusCode, body)
	}
	checkHeader(t, resp, "Server", "test-worker/1.0")
	if got := resp.Header.Values("Server"); len(got) != 1 {
		t.Errorf("GET /server: Server headers %q, want the worker's only", got)
	}
	resp, _ = get(t, c, g.url+"/name")
	if got := resp.Header.Values("Server"); len(got) != 0 {
		t.Errorf("GET /name: Server %q, want none: the worker sent none", got)
	}
}

// TestLimits: oversize bodies and headers and ambiguous framing are refused
// by the gateway and never reach the worker.
func TestLimits(t *testing.T) {
	t.Parallel()
	ep := ipcURL(t, "limits")
	countFile := filepath.Join(t.TempDir(), "count")
	g, _ := startStack(t, ep, []string{"--count-file", countFile}, "--route", "/="+ep, "--timeout", "5s")
	runLimits(t, g, countFile)
}

// runLimits runs the limit cases against g, a gateway with the default
// limits in front of a test worker counting its requests in countFile.
func runLimits(t *testing.T, g *gateway, countFile string) {
	t.Run("body-at-limit", func(t *testing.T) {
		// The default limit is 8 MiB: exactly that passes, one more byte
		// does not.
		c := newClient(t)
		payload := binaryBody(8<<20, 4)
		resp, body := do(t, c, mustRequest(t, "POST", g.url+"/echo", payload))
		if resp.StatusCode != 200 || !bytes.Equal(body, payload) {
			t.Errorf("8 MiB: status %d, %d bytes echoed (equal: %v), want 200 and the body",
				resp.StatusCode, len(body), bytes.Equal(body, payload))
		}
		conn := dialRaw(t, g.addr)
		conn.write(t, fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", 8<<20+1))
		go conn.Write(append(payload, 'x'))
		if resp, body := conn.read(t, "POST"); resp.StatusCode != 413 {
			t.Errorf("8 MiB + 1: status %d, want 413; body %.200q", resp.StatusCode, body)
		}
	})
	t.Run("body-9MiB", func(t *testing.T) {
		conn := dialRaw(t, g.addr)
		const size = 9 << 20
		conn.write(t, fmt.Sprintf("POST /count HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", size))
		go func() { // the gateway may answer and close before reading it all
			chunk := make([]byte, 64<<10)
			for sent := 0; sent < size; sent += len(chunk) {
				if _, err := conn.Write(chunk); err != nil {
					return
				}
			}
		}()
		if resp, body := conn.read(t, "POST"); resp.StatusCode != 413 {
			t.Errorf("status %d, want 413; body %q", resp.StatusCode, body)
		}
	})
	t.Run("body-9MiB-chunked", func(t *testing.T) {
		conn := dialRaw(t, g.addr)
		conn.write(t, "POST /count HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n")
		go func() {
			chunk := fmt.Sprintf("%x\r\n%s\r\n", 64<<10, bytes.Repeat([]byte("x"), 64<<10))
			for range 9 << 4 { // 9 MiB
				if _, err := io.WriteString(conn, chunk); err != nil {
					return
				}
			}
			io.WriteString(conn, "0\r\n\r\n")
		}()
		if resp, body := conn.read(t, "POST"); resp.StatusCode != 413 {
			t.Errorf("status %d, want 413; body %q", resp.StatusCode, body)
		}
	})
	t.Run("header-20KiB", func(t *testing.T) {
		conn := dialRaw(t, g.addr)
		conn.write(t, "GET /count HTTP/1.1\r\nHost: gw\r\nX-Big: "+strings.Repeat("a", 20<<10)+"\r\n\r\n")
		if resp, body := conn.read(t, "GET"); resp.StatusCode != 431 {
			t.Errorf("status %d, want 431; body %q", resp.StatusCode, body)
		}
	})
	// A request smuggling shape, followed in the same write by a request
	// that a confused server would run.
	for _, framing := range []string{
		"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
		"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
	} {
		t.Run("content-length-and-transfer-encoding", func(t *testing.T) {
			conn := dialRaw(t, g.addr)
			conn.write(t, "POST /count HTTP/1.1\r\nHost: gw\r\n"+framing+"\r\n4\r\nbody\r\n0\r\n\r\n"+
				"GET /count HTTP/1.1\r\nHost: gw\r\n\r\n")
			resp, body := conn.read(t, "POST")
			if resp.StatusCode != 400 {
				t.Errorf("status %d, want 400; body %q", resp.StatusCode, body)
			}
			if !resp.Close {
				t.Error("400 without Connection: close")
			}
			conn.expectClosed(t)
		})
	}
	t.Run("worker-never-ran", func(t *testing.T) {
		// Proves the worker was up: the one request that may reach it.
		c := newClient(t)
		if resp, body := get(t, c, g.url+"/count"); resp.StatusCode != 200 {
			t.Fatalf("GET /count: status %d body %q", resp.StatusCode, body)
		}
		if n := countLines(t, countFile); n != 1 {
			t.Errorf("the worker ran /count %d times, want 1 (only the last, good request)", n)
		}
	})
}

// TestGracefulShutdown: on SIGTERM the gateway stops accepting, finishes
// the request in flight, and exits 0.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	runGracefulShutdown(t)
}

// runGracefulShutdown runs TestGracefulShutdown with more gateway flags.
func runGracefulShutdown(t *testing.T, gatewayArgs ...string) {
	ep := ipcURL(t, "drain")
	countFile := filepath.Join(t.TempDir(), "count")
	g, _ := startStack(t, ep, []string{"--count-file", countFile},
		append([]string{"--route", "/=" + ep, "--timeout", "10s"}, gatewayArgs...)...)
	c := newClient(t)
	done := postAsync(c, g.url+"/slow-count?ms=700", "finish me")
	if !pollUntil(5*time.Second, func() bool { return countLines(t, countFile) == 1 }) {
		t.Fatal("the request never reached the worker")
	}
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.status != 200 || r.body != "counted slowly\n" {
			t.Errorf("request in flight at SIGTERM: status %d body %q err %v, want 200 %q",
				r.status, r.body, r.err, "counted slowly\n")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no response to the request in flight 10s after SIGTERM")
	}
	select {
	case <-g.done:
		if g.err != nil {
			t.Errorf("gateway exit: %v, want status 0", g.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("gateway still running 5s after SIGTERM and its last request")
	}
	if conn, err := net.DialTimeout("tcp", g.addr, time.Second); err == nil {
		conn.Close()
		t.Error("gateway still accepts connections after exiting")
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	t.Run("good", func(t *testing.T) {
		path := writeFile(t, "good.toml", `listen = "127.0.0.1:9999"

[server]
reuse_port = true

[[route]]
name = "api"
path = "/api/"
timeout = "5s"
  [[route.endpoint]]
  url = "ipc:///tmp/ng-check-api.sock"
  [[route.endpoint]]
  url = "tcp://127.0.0.1:5555"
  mode = "listen"
  priority = 1

[[route]]
host = "static.example.com"
endpoints = ["ipc:///tmp/ng-check-static.sock"]
`)
		code, stdout, stderr := runCheck(t, path)
		if code != 0 {
			t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr)
		}
		for _, re := range []string{
			`(?m)^ROUTE\s+HOST\s+MATCH\s+TIMEOUT\s+CONTEXTS\s+ENDPOINT\s+MODE\s+PRIORITY\s*$`,
			`(?m)^api\s+\*\s+/api/\s+5s\s+64\s+ipc:///tmp/ng-check-api\.sock\s+dial\s+0\s*$`,
			`(?m)^\s+tcp://127\.0\.0\.1:5555\s+listen\s+1\s*$`,
			`(?m)^static\.example\.com/\s+static\.example\.com\s+/\s+30s\s+64\s+ipc:///tmp/ng-check-static\.sock\s+dial\s+0\s*$`,
			`ok, listen 127\.0\.0\.1:9999 \(reuse_port: shared with other nanogate processes\)\n`,
		} {
			if !regexp.MustCompile(re).MatchString(stdout) {
				t.Errorf("stdout does not match %s:\n%s", re, stdout)
			}
		}
	})
	t.Run("example", func(t *testing.T) {
		// The reference configuration passes its own check.
		example := filepath.Join("..", "..", "config", "example.toml")
		if _, err := os.Stat(example); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := runCheck(t, example); code != 0 {
			t.Errorf("exit %d, want 0; stderr:\n%s", code, stderr)
		}
	})
	t.Run("broken", func(t *testing.T) {
		path := writeFile(t, "broken.toml", `[[route]]
path = "/api/"

  [[route.endpoint]]
  url = "htp://127.0.0.1:5555"

[[route]]
path = "/b/"
timeoutt = "5s"
endpoints = ["ipc:///tmp/ng-check-b.sock"]
`)
		code, stdout, stderr := runCheck(t, path)
		if code != 2 {
			t.Errorf("exit %d, want 2; stdout:\n%s", code, stdout)
		}
		for _, want := range []string{path + ":5:", "url", path + ":9:", "timeoutt"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not name %q:\n%s", want, stderr)
			}
		}
	})
}

// TestFastWorker: a worker on the SDK's FastHandler behind the real gateway,
// over ipc and tcp: the request as the client sent it plus the gateway's
// fields, a 5 MiB body byte-exact, HEAD, statuses without a body.
func TestFastWorker(t *testing.T) {
	for _, transport := range []string{"ipc", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			ep := endpointURL(t, transport, "fast")
			g, _ := startStack(t, ep, []string{"--mode", "fast", "--name", "f"}, "--route", "/="+ep)
			c := newClient(t)

			req, _ := http.NewRequest("GET", g.url+"/echo?x=1", nil)
			req.Header.Set("X-Custom", "v1")
			resp, body := do(t, c, req)
			lines := strings.Split(string(body), "\n")
			if resp.StatusCode != 200 || lines[0] != "GET /echo?x=1" ||
				!slices.Contains(lines, "X-Custom: v1") || !slices.Contains(lines, "X-Forwarded-For: 127.0.0.1") ||
				!slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "X-Nanogate-Session: ") }) {
				t.Fatalf("GET /echo: %d\n%s", resp.StatusCode, body)
			}

			payload := binaryBody(5<<20, 3)
			resp, body = do(t, c, mustRequest(t, "POST", g.url+"/echo", payload))
			if i := bytes.Index(body, []byte("\n\n")); resp.StatusCode != 200 || i < 0 || !bytes.Equal(body[i+2:], payload) {
				t.Fatalf("POST 5 MiB: %d, %d bytes back", resp.StatusCode, len(body))
			}

			resp, body = do(t, c, mustRequest(t, "HEAD", g.url+"/name", nil))
			if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len("f /name")) {
				t.Fatalf("HEAD: %d, Content-Length %d, body %q", resp.StatusCode, resp.ContentLength, body)
			}
			for _, code := range []int{204, 304, 404, 503} {
				resp, body = do(t, c, mustRequest(t, "GET", g.url+"/status/"+strconv.Itoa(code), nil))
				wantBody := code != 204 && code != 304
				if resp.StatusCode != code || resp.Header.Get("X-Status") != strconv.Itoa(code) || (len(body) > 0) != wantBody {
					t.Fatalf("/status/%d: %d, X-Status %q, body %q", code, resp.StatusCode, resp.Header.Get("X-Status"), body)
				}
			}
		})
	}
}

// TestReusePort runs two gateways on one address with reuse_port, as for a
// rolling upgrade: both take new connections, a third without reuse_port
// cannot bind, and once the first has stopped the second serves alone.
func TestReusePort(t *testing.T) {
	t.Parallel()
	ep := ipcURL(t, "reuse")
	startWorker(t, "--bind", ep)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	conf := writeFile(t, "reuse.toml", fmt.Sprintf(
		"listen = %q\n[server]\nreuse_port = true\n[[route]]\nendpoints = [%q]\n", addr, ep))
	var gs [2]*gateway
	for i := range gs {
		gs[i] = startGateway(t, "--config", conf, "--listen", addr, "--log-level", "debug")
		gs[i].waitConnected(t, 0, ep)
	}

	plain := startProc(t, "nanogate-plain", gatewayBin, "--listen", addr, "--route", "/="+ep)
	plain.waitFrom(t, 0, "a bind error", startTimeout, func(l string) bool {
		return strings.Contains(l, "address already in use")
	})

	// Each request on a new connection: the kernel picks a gateway per
	// connection, by a hash of its addresses.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	fetch := func(n int) {
		t.Helper()
		for range n {
			resp, body := get(t, c, "http://"+addr+"/echo")
			if resp.StatusCode != 200 || resp.Header.Get("X-Got-Method") != "GET" {
				t.Fatalf("GET /echo: %d %q %v", resp.StatusCode, body, resp.Header)
			}
		}
	}
	fetch(40)
	// A gateway logs a request before it answers, but its output reaches
	// the test through a pipe.
	pollUntil(5*time.Second, func() bool { return served(gs[0])+served(gs[1]) == 40 })
	for i, g := range gs {
		if n := served(g); n == 0 {
			t.Errorf("gateway %d served none of 40 connections", i)
		}
	}

	if err := gs[0].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gs[0].done:
	case <-time.After(10 * time.Second):
		t.Fatal("first gateway still running 10s after SIGTERM")
	}
	before := served(gs[1])
	fetch(20)
	pollUntil(5*time.Second, func() bool { return served(gs[1])-before == 20 })
	if n := served(gs[1]) - before; n != 20 {
		t.Errorf("after the first gateway stopped, the second served %d of 20 requests", n)
	}
}

// served counts the requests a gateway at debug level has logged.
func served(g *gateway) int {
	n := 0
	for from := 0; ; n++ {
		i, _, _ := g.out.find(from, func(l string) bool { return strings.Contains(l, " msg=request ") })
		if i < 0 {
			return n
		}
		from = i + 1
	}
}

func TestResetsQueued(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]bool{"0\n": true, "1\n": false, "": true} {
		path := filepath.Join(dir, "migrate")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := resetsQueued(path); got != want {
			t.Errorf("sysctl %q: resetsQueued = %v, want %v", content, got, want)
		}
	}
	if !resetsQueued(filepath.Join(dir, "missing")) {
		t.Error("a kernel without the sysctl does not reset queued connections?")
	}
}
