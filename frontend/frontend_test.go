package frontend

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nanogate/nanogate/bridge"
)

// upstreamFunc lets a test stand in for the bridge.
type upstreamFunc func(dst, msg []byte, safe bool) ([]byte, error)

func (f upstreamFunc) RoundTrip(dst, msg []byte, safe bool) ([]byte, error) { return f(dst, msg, safe) }

// recorder answers every request with reply and keeps the messages it got;
// messages returns them so far.
func recorder(reply string) (up upstreamFunc, messages func() []string) {
	var mu sync.Mutex
	var msgs []string
	up = func(dst, msg []byte, _ bool) ([]byte, error) {
		mu.Lock()
		msgs = append(msgs, string(msg))
		mu.Unlock()
		return append(dst, reply...), nil
	}
	return up, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(msgs)
	}
}

// reply answers every request with the same bytes.
func reply(s string) upstreamFunc {
	return func(dst, _ []byte, _ bool) ([]byte, error) { return append(dst, s...), nil }
}

// startServer serves routes on a real loopback listener.
func startServer(t *testing.T, c Config) string {
	t.Helper()
	c.Logger = slog.New(slog.DiscardHandler)
	s := New(c)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(ln); close(done) }()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// exchange writes raw on a fresh connection and reads one response.
func exchange(t *testing.T, addr, raw string) (*http.Response, []byte, *bufio.Reader, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body, br, c
}

func TestFraming(t *testing.T) {
	var calls int
	var mu sync.Mutex
	up := upstreamFunc(func(dst, msg []byte, _ bool) ([]byte, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return append(dst, "HTTP/1.1 200 OK\r\n\r\nok"...), nil
	})
	addr := startServer(t, Config{Routes: []Route{{Name: "all", Upstream: up}}, MaxBodyBytes: 1024, MaxHeaderBytes: 4096})
	tests := []struct {
		name   string
		raw    string
		status int
		closed bool
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true},
		{"TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, true},
		{"two lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, true},
		{"gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400, true},
		{"space before colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400, true},
		{"body over limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n" + strings.Repeat("x", 2048), 413, true},
		{"chunked over limit", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + strings.Repeat("x", 2048) + "\r\n0\r\n\r\n", 413, true},
		{"headers over limit", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("y", 8192) + "\r\n\r\n", 431, true},
		{"chunked ok", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 200, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			before := calls
			mu.Unlock()
			resp, _, br, _ := exchange(t, addr, tc.raw)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			mu.Lock()
			reached := calls - before
			mu.Unlock()
			if tc.status != 200 && reached != 0 {
				t.Fatalf("a refused request reached the worker")
			}
			if tc.closed {
				// EOF, or a reset when the server closed with unread input.
				if _, err := br.ReadByte(); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("connection left open after %d (read: %v)", tc.status, err)
				}
			}
		})
	}
}

func TestStatusForUpstreamErrors(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		retryAfter bool
	}{
		{bridge.ErrNoWorker, 503, true},
		{&bridge.EndpointError{URL: "ipc://x", Err: bridge.ErrBusy}, 503, true},
		{&bridge.EndpointError{URL: "ipc://x", Err: bridge.ErrTimeout}, 504, false},
		{&bridge.EndpointError{URL: "ipc://x", Err: bridge.ErrWorkerLost}, 502, false},
		{errors.New("anything else"), 502, false},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			up := upstreamFunc(func(dst, _ []byte, _ bool) ([]byte, error) { return dst, tc.err })
			addr := startServer(t, Config{Routes: []Route{{Upstream: up}}})
			resp, _, _, _ := exchange(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Retry-After") != ""; got != tc.retryAfter {
				t.Fatalf("Retry-After present = %v, want %v", got, tc.retryAfter)
			}
		})
	}
}

func TestBadReplyIs502(t *testing.T) {
	addr := startServer(t, Config{Routes: []Route{{Upstream: reply("not http")}}})
	resp, _, _, _ := exchange(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp.StatusCode != 502 {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
}

func TestReplyPassThrough(t *testing.T) {
	addr := startServer(t, Config{Routes: []Route{{Upstream: reply(
		"HTTP/1.0 299 Custom Reason\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: a=2; Path=/x\r\n" +
			"Connection: close\r\nX-Bin: 1\r\nContent-Type: application/octet-stream\r\nServer: worker/1\r\n\r\n\x00\x01\r\n\xff")}}})
	resp, body, _, _ := exchange(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp.StatusCode != 299 || resp.Status != "299 Custom Reason" {
		t.Fatalf("status line %q", resp.Status)
	}
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 || got[0] != "a=1; Path=/" || got[1] != "a=2; Path=/x" {
		t.Fatalf("Set-Cookie %q", got)
	}
	if !bytes.Equal(body, []byte("\x00\x01\r\n\xff")) || resp.ContentLength != 5 {
		t.Fatalf("body %q, length %d", body, resp.ContentLength)
	}
	if resp.Header.Get("Server") != "worker/1" || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("headers %v", resp.Header)
	}
	if resp.Close {
		t.Fatal("the worker's Connection: close is hop-by-hop and must not close the client's connection")
	}
}

func TestHeadKeepsContentLength(t *testing.T) {
	addr := startServer(t, Config{Routes: []Route{{Upstream: reply("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")}}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength != 1234 {
		t.Fatalf("HEAD Content-Length %d, want 1234", resp.ContentLength)
	}
}

func TestRoutes(t *testing.T) {
	named := func(n string) Upstream { return reply("HTTP/1.1 200 OK\r\n\r\n" + n) }
	addr := startServer(t, Config{Routes: []Route{
		{Name: "root", Path: "/", Upstream: named("root")},
		{Name: "api", Path: "/api/", Upstream: named("api")},
		{Name: "api-v2", Path: "/api/v2/", Upstream: named("api-v2")},
		{Name: "host", Host: "Example.COM", Path: "/", Upstream: named("host")},
		{Name: "re", Regex: mustRegexp(`\.php$`), Upstream: named("re")},
	}})
	tests := map[string]string{
		"GET /x HTTP/1.1\r\nHost: a\r\n\r\n":                     "root",
		"GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n":                 "api",
		"GET /api/v2/x HTTP/1.1\r\nHost: a:8080\r\n\r\n":         "api-v2",
		"GET /api/x HTTP/1.1\r\nHost: example.com:80\r\n\r\n":    "host",
		"GET /index.php HTTP/1.1\r\nHost: a\r\n\r\n":             "re",
		"GET /api/../index.php?x HTTP/1.1\r\nHost: a\r\n\r\n":    "re",
		"GET /api/v2/../../x HTTP/1.1\r\nHost: a\r\n\r\n":        "root",
		"GET /API/x HTTP/1.1\r\nHost: other.example\r\n\r\n":     "root",
		"GET http://a/api/x HTTP/1.1\r\nHost: a\r\n\r\n":         "api",
		"GET /apix HTTP/1.1\r\nHost: a\r\n\r\n":                  "root",
		"GET /api/v2 HTTP/1.1\r\nHost: example.org\r\n\r\n":      "api",
		"GET /api/v2/ HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n":      "api-v2",
		"GET /favicon.ico HTTP/1.1\r\nHost: EXAMPLE.com\r\n\r\n": "host",
	}
	for raw, want := range tests {
		_, body, _, _ := exchange(t, addr, raw)
		if string(body) != want {
			t.Errorf("%q went to %q, want %q", strings.SplitN(raw, "\r\n", 2)[0], body, want)
		}
	}
	addr = startServer(t, Config{Routes: []Route{{Path: "/only/", Upstream: named("x")}}})
	if resp, _, _, _ := exchange(t, addr, "GET /other HTTP/1.1\r\nHost: a\r\n\r\n"); resp.StatusCode != 404 {
		t.Fatalf("unrouted path: %d, want 404", resp.StatusCode)
	}
}

// TestPipelining sends ten requests in one write and expects ten answers in
// order, each computed from its own request.
func TestPipelining(t *testing.T) {
	up := upstreamFunc(func(dst, msg []byte, _ bool) ([]byte, error) {
		line := msg[:bytes.IndexByte(msg, '\r')]
		return fmt.Appendf(dst, "HTTP/1.1 200 OK\r\n\r\n%s", line), nil
	})
	addr := startServer(t, Config{Routes: []Route{{Upstream: up}}})
	var raw strings.Builder
	for i := range 10 {
		fmt.Fprintf(&raw, "GET /%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, raw.String())
	br := bufio.NewReader(c)
	for i := range 10 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if want := fmt.Sprintf("GET /%d HTTP/1.1", i); string(body) != want {
			t.Fatalf("response %d: %q, want %q", i, body, want)
		}
	}
}

// TestSessionStablePerConnection: one session id per connection, one
// request id per request, the client's sane X-Request-Id kept.
func TestSessionStablePerConnection(t *testing.T) {
	up, messages := recorder("HTTP/1.1 204 No Content\r\n\r\n")
	addr := startServer(t, Config{Routes: []Route{{Forward: true, Upstream: up}}})
	header := func(msg, name string) string {
		for _, l := range strings.Split(msg, "\r\n") {
			if v, ok := strings.CutPrefix(l, name+": "); ok {
				return v
			}
		}
		return ""
	}
	get := func(c net.Conn, br *bufio.Reader, extra string) {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n"+extra+"\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		get(c, br, "")
		get(c, br, "")
		get(c, br, "X-Request-Id: client-id-1\r\n")
		c.Close()
	}
	msgs := messages()
	if len(msgs) != 6 {
		t.Fatalf("%d messages", len(msgs))
	}
	s := []string{header(msgs[0], "X-Nanogate-Session"), header(msgs[1], "X-Nanogate-Session"), header(msgs[3], "X-Nanogate-Session")}
	if len(s[0]) != 32 || s[0] != s[1] || s[0] == s[2] {
		t.Fatalf("sessions %q: want one per connection", s)
	}
	r := []string{header(msgs[0], "X-Request-Id"), header(msgs[1], "X-Request-Id"), header(msgs[2], "X-Request-Id")}
	if len(r[0]) != 32 || r[0] == r[1] || r[2] != "client-id-1" {
		t.Fatalf("request ids %q", r)
	}
	if got := header(msgs[0], "X-Forwarded-For"); got != "127.0.0.1" {
		t.Fatalf("X-Forwarded-For %q", got)
	}
}
