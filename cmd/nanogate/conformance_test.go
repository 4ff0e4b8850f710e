package main

// The SDK conformance suite: every worker SDK, whatever its language,
// answers the same app the same way behind the real gateway
// (the contract: the table below, and docs/sdk-<lang>.md).
//
// Each language registers its conformance worker in its own file,
// conformance_<lang>_test.go, with an init() that adds a starter to
// conformanceWorkers. A starter starts the worker with startProc, bound
// (REP, --bind) to endpoint, waits for its line "ready" and returns it.
// TestConformance runs every case against every registered worker, as
// subtests TestConformance/<lang>/<case>, one gateway and one worker per
// language; `go test -run 'TestConformance/c/'` runs one language.
//
//	GET  /hello          200 text/plain; charset=utf-8 "hello\n"
//	HEAD /hello          the same head, no body
//	POST /echo           the body back, Content-Type kept (else application/octet-stream), X-Body-Length
//	GET  /cookies        Set-Cookie a=1; Path=/ then b=2; Path=/
//	GET  /status/{201,204,301,404,500}   that status, X-Status, Location for 201 and 301
//	GET  /raise          the handler fails; 500, and the worker logs the request id
//	GET  /env?x=1        JSON: method, path, query, remote_addr, session_id, request_id
//	GET  /sleep?ms=N     "slept\n" after N ms, without holding up other requests
//
// The cases run over ipc://; then SIGTERM with requests in flight, which
// must all finish; then a second worker, bound to tcp://, answers a GET
// and an echo.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// conformanceWorkers maps a language to the starter of its conformance
// worker.
var conformanceWorkers = map[string]func(t testing.TB, endpoint string) *proc{}

// conformanceConfig is the gateway's: one route to the worker, with room
// for the 200 concurrent requests of the concurrency case (the default is
// 64 in flight per endpoint, then 503).
const conformanceConfig = `
[[route]]
path      = "/"
endpoints = [%q]
contexts  = 256
timeout   = "30s"
`

// conformanceStack is a gateway in front of one language's worker.
type conformanceStack struct {
	lang   string
	g      *gateway
	w      *proc
	admin  string // base URL of the gateway's admin listener
	client *http.Client
}

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gateway and a worker per SDK")
	}
	langs := make([]string, 0, len(conformanceWorkers))
	for lang := range conformanceWorkers {
		langs = append(langs, lang)
	}
	sort.Strings(langs)
	for _, lang := range langs {
		t.Run(lang, func(t *testing.T) {
			s := startConformance(t, lang)
			t.Run("get", s.get)
			t.Run("head", s.head)
			t.Run("echo", s.echo)
			t.Run("echo-binary-5MiB", s.echoBinary)
			t.Run("echo-chunked", s.echoChunked)
			t.Run("cookies", s.cookies)
			t.Run("status", s.status)
			t.Run("raise", s.raise)
			t.Run("env", s.env)
			t.Run("concurrent", s.concurrent)
			t.Run("sigterm", s.sigterm) // last: the worker exits
			t.Run("tcp", func(t *testing.T) { conformanceTCP(t, lang) })
		})
	}
}

func startConformance(t *testing.T, lang string) *conformanceStack {
	endpoint := ipcURL(t, "conf-"+lang)
	w := conformanceWorkers[lang](t, endpoint)
	cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(conformanceConfig, endpoint))
	g := startGateway(t, "--config", cfg, "--admin", "127.0.0.1:0")
	line := g.waitFrom(t, 0, "admin listening", startTimeout, adminAddr.MatchString)
	g.waitConnected(t, 0, endpoint)
	return &conformanceStack{
		lang:   lang,
		g:      g,
		w:      w,
		admin:  "http://" + adminAddr.FindStringSubmatch(line)[1],
		client: newClient(t),
	}
}

// expect checks a response's status, the listed headers and the body.
func expect(t *testing.T, what string, resp *http.Response, body []byte, status int, headers map[string]string, want string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d (body %q)", what, resp.StatusCode, status, clip(body))
	}
	for name, v := range headers {
		if got := resp.Header.Values(name); len(got) != 1 || got[0] != v {
			t.Errorf("%s: %s = %q, want [%q]", what, name, got, v)
		}
	}
	if string(body) != want {
		t.Errorf("%s: body %q, want %q", what, clip(body), want)
	}
}

func clip(b []byte) []byte {
	if len(b) > 200 {
		return append(b[:200:200], "..."...)
	}
	return b
}

const textPlain = "text/plain; charset=utf-8"

func (s *conformanceStack) get(t *testing.T) {
	resp, body := get(t, s.client, s.g.url+"/hello")
	expect(t, "GET /hello", resp, body, 200, map[string]string{"Content-Type": textPlain}, "hello\n")
}

// head reads the HEAD reply on a raw connection, then a GET on the same
// connection: a HEAD reply that carried body bytes would corrupt the GET's.
func (s *conformanceStack) head(t *testing.T) {
	c := dialRaw(t, s.g.addr)
	c.write(t, "HEAD /hello HTTP/1.1\r\nHost: conformance\r\n\r\n")
	resp, body := c.read(t, http.MethodHead)
	expect(t, "HEAD /hello", resp, body, 200, map[string]string{"Content-Type": textPlain}, "")
	if cl := resp.Header.Get("Content-Length"); cl != "" && cl != "6" {
		t.Errorf("HEAD /hello: Content-Length %q, want 6 or none", cl)
	}
	c.write(t, "GET /hello HTTP/1.1\r\nHost: conformance\r\n\r\n")
	resp, body = c.read(t, http.MethodGet)
	expect(t, "GET /hello after HEAD", resp, body, 200, map[string]string{"Content-Type": textPlain}, "hello\n")
}

func (s *conformanceStack) echo(t *testing.T) {
	req := mustRequest(t, http.MethodPost, s.g.url+"/echo", []byte("{\"a\": \"b\"}\n"))
	req.Header.Set("Content-Type", "application/x-conformance; charset=latin1")
	resp, body := do(t, s.client, req)
	expect(t, "POST /echo", resp, body, 200, map[string]string{
		"Content-Type":  "application/x-conformance; charset=latin1",
		"X-Body-Length": "11",
	}, "{\"a\": \"b\"}\n")

	req = mustRequest(t, http.MethodPost, s.g.url+"/echo", nil)
	req.ContentLength = 0
	resp, body = do(t, s.client, req)
	expect(t, "empty POST /echo", resp, body, 200, map[string]string{
		"Content-Type": "application/octet-stream", "X-Body-Length": "0"}, "")
}

// echoBinary: 5 MiB with NUL bytes and every byte value comes back exact.
func (s *conformanceStack) echoBinary(t *testing.T) {
	in := binaryBody(5<<20, 10)
	resp, body := do(t, s.client, mustRequest(t, http.MethodPost, s.g.url+"/echo", in))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, body %q", resp.StatusCode, clip(body))
	}
	checkHeader(t, resp, "Content-Type", "application/octet-stream")
	checkHeader(t, resp, "X-Body-Length", strconv.Itoa(len(in)))
	if !bytes.Equal(body, in) {
		t.Fatalf("body of %d bytes differs from the %d sent, first at byte %d", len(body), len(in), firstDiff(body, in))
	}
}

// echoChunked: uploads with Transfer-Encoding: chunked reach the worker
// de-chunked, with their length: one written by hand, one that net/http
// chunks because its length is unknown.
func (s *conformanceStack) echoChunked(t *testing.T) {
	c := dialRaw(t, s.g.addr)
	c.write(t, "POST /echo HTTP/1.1\r\nHost: conformance\r\nContent-Type: text/plain\r\n"+
		"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
	resp, body := c.read(t, http.MethodPost)
	expect(t, "chunked POST /echo", resp, body, 200, map[string]string{
		"Content-Type": "text/plain", "X-Body-Length": "11"}, "hello world")

	in := binaryBody(300<<10, 11)
	pr, pw := io.Pipe()
	go func() {
		defer pw.Close()
		for rest := in; len(rest) > 0; {
			n := min(len(rest), 7000)
			if _, err := pw.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
	}()
	req, err := http.NewRequest(http.MethodPost, s.g.url+"/echo", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // unknown: net/http sends it chunked
	resp, body = do(t, s.client, req)
	if resp.StatusCode != 200 || !bytes.Equal(body, in) {
		t.Fatalf("chunked 300 KiB: status %d, %d bytes back (first difference at %d)", resp.StatusCode, len(body), firstDiff(body, in))
	}
	checkHeader(t, resp, "X-Body-Length", strconv.Itoa(len(in)))
}

func (s *conformanceStack) cookies(t *testing.T) {
	resp, body := get(t, s.client, s.g.url+"/cookies")
	expect(t, "GET /cookies", resp, body, 200, nil, "cookies\n")
	want := []string{"a=1; Path=/", "b=2; Path=/"}
	if got := resp.Header.Values("Set-Cookie"); !slices.Equal(got, want) {
		t.Errorf("Set-Cookie = %q, want %q", got, want)
	}
}

func (s *conformanceStack) status(t *testing.T) {
	for _, tc := range []struct {
		code     int
		location string
		body     string
	}{
		{201, "/created", "created\n"},
		{204, "", ""},
		{301, "/hello", "moved\n"},
		{404, "", "not found\n"},
		{500, "", "error\n"},
	} {
		path := "/status/" + strconv.Itoa(tc.code)
		resp, body := get(t, s.client, s.g.url+path)
		headers := map[string]string{"X-Status": strconv.Itoa(tc.code)}
		if tc.location != "" {
			headers["Location"] = tc.location
		}
		expect(t, "GET "+path, resp, body, tc.code, headers, tc.body)
	}
}

// raise: a handler that raises, throws or panics costs its request a 500,
// and the worker's log names the request.
func (s *conformanceStack) raise(t *testing.T) {
	id := fmt.Sprintf("conformance-raise-%s-%d", s.lang, time.Now().UnixNano())
	mark := s.w.out.len()
	req := mustRequest(t, http.MethodGet, s.g.url+"/raise", nil)
	req.Header.Set("X-Request-Id", id)
	resp, body := do(t, s.client, req)
	if resp.StatusCode != 500 {
		t.Errorf("GET /raise: status %d, want 500 (body %q)", resp.StatusCode, clip(body))
	}
	s.w.waitFrom(t, mark, "a log line with request id "+id, startTimeout, func(line string) bool {
		return strings.Contains(line, id)
	})
	// The worker goes on serving.
	resp, body = get(t, s.client, s.g.url+"/hello")
	expect(t, "GET /hello after /raise", resp, body, 200, nil, "hello\n")
}

// env: the request as the worker saw it. The client's own X-Forwarded-For
// is kept and the gateway appends the client's address, which is the one
// remote_addr must give; the session id is the connection's.
func (s *conformanceStack) env(t *testing.T) {
	type env struct {
		Method, Path, Query, RemoteAddr, SessionID, RequestID string
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	fetch := func(c *http.Client, id string) env {
		t.Helper()
		req := mustRequest(t, http.MethodGet, s.g.url+"/env?x=1", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("X-Request-Id", id)
		resp, body := do(t, c, req)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /env: status %d body %q", resp.StatusCode, clip(body))
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("GET /env: Content-Type %q, want application/json", ct)
		}
		var fields map[string]any
		if err := json.Unmarshal(body, &fields); err != nil {
			t.Fatalf("GET /env: %v in %q", err, body)
		}
		str := func(k string) string {
			v, ok := fields[k].(string)
			if !ok {
				t.Errorf("GET /env: field %q is %T (%v), want a string", k, fields[k], fields[k])
			}
			return v
		}
		return env{str("method"), str("path"), str("query"), str("remote_addr"), str("session_id"), str("request_id")}
	}
	first := fetch(c, "conformance-env-1")
	want := env{"GET", "/env", "x=1", "127.0.0.1", first.SessionID, "conformance-env-1"}
	if first != want {
		t.Errorf("GET /env = %+v, want %+v", first, want)
	}
	if !hexID.MatchString(first.SessionID) {
		t.Errorf("session_id %q is not 32 lower-case hex digits", first.SessionID)
	}
	if again := fetch(c, "conformance-env-2"); again.SessionID != first.SessionID {
		t.Errorf("session_id changed on the same connection: %q then %q", first.SessionID, again.SessionID)
	}
	other := newClient(t)
	if o := fetch(other, "conformance-env-3"); o.SessionID == first.SessionID {
		t.Errorf("two connections share session_id %q", o.SessionID)
	}
}

// concurrent: 200 clients at once on /sleep?ms=300, each on its own
// connection; one at a time they would take 60 s.
func (s *conformanceStack) concurrent(t *testing.T) {
	const n, ms = 200, 300
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: n, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(s.g.url + "/sleep?ms=" + strconv.Itoa(ms))
			if err != nil {
				errs <- fmt.Sprintf("#%d: %v", i, err)
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(body) != "slept\n" {
				errs <- fmt.Sprintf("#%d: status %d body %q err %v", i, resp.StatusCode, clip(body), err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	failed := 0
	for e := range errs {
		if failed++; failed <= 5 {
			t.Error(e)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d concurrent requests failed", failed, n)
	}
	// 20x under sequential time; the machine is shared, so no tighter.
	if limit := n * ms * time.Millisecond / 20; elapsed > limit {
		t.Errorf("%d concurrent /sleep?ms=%d took %v, want under %v (sequential: %v)", n, ms, elapsed, limit, n*ms*time.Millisecond)
	}
	t.Logf("%d concurrent /sleep?ms=%d in %v", n, ms, elapsed.Round(time.Millisecond))
}

// inFlightMetric matches the gateway's in-flight gauge of an endpoint.
var inFlightMetric = regexp.MustCompile(`(?m)^nanogate_in_flight\{[^}]*\} (\d+)$`)

// inFlight returns the requests the gateway has sent to the worker and
// not had answered (the sum over the route's endpoints).
func (s *conformanceStack) inFlight(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	total := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m := inFlightMetric.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[1])
			total += n
		}
	}
	return total
}

// sigterm: SIGTERM while requests are in flight; they all finish, and the
// worker exits with status 0.
func (s *conformanceStack) sigterm(t *testing.T) {
	const n, ms = 10, 1500
	results := make(chan string, n)
	for i := range n {
		go func() {
			resp, err := s.client.Get(s.g.url + "/sleep?ms=" + strconv.Itoa(ms))
			if err != nil {
				results <- fmt.Sprintf("#%d: %v", i, err)
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(body) != "slept\n" {
				results <- fmt.Sprintf("#%d: status %d body %q err %v", i, resp.StatusCode, clip(body), err)
				return
			}
			results <- ""
		}()
	}
	// The gateway has sent all of them to the worker.
	if !pollUntil(5*time.Second, func() bool { return s.inFlight(t) >= n }) {
		t.Fatalf("the gateway never had %d requests in flight (last %d)", n, s.inFlight(t))
	}
	if err := s.w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range n {
		if r := <-results; r != "" {
			t.Errorf("request in flight at SIGTERM: %s", r)
		}
	}
	select {
	case <-s.w.done:
		if s.w.err != nil {
			t.Errorf("worker exited with %v after SIGTERM, want status 0", s.w.err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("worker still running 10 s after SIGTERM with nothing in flight")
	}
}

// conformanceTCP: the worker binds a tcp:// endpoint as well as ipc://;
// a second worker and gateway answer GET and a binary echo over it.
func conformanceTCP(t *testing.T, lang string) {
	endpoint := tcpURL(t)
	conformanceWorkers[lang](t, endpoint)
	g := startGateway(t, "--route", "/="+endpoint)
	g.waitConnected(t, 0, endpoint)
	c := newClient(t)
	resp, body := get(t, c, g.url+"/hello")
	expect(t, "GET /hello over tcp", resp, body, 200, map[string]string{"Content-Type": textPlain}, "hello\n")
	in := binaryBody(256<<10, 12)
	resp, body = do(t, c, mustRequest(t, http.MethodPost, g.url+"/echo", in))
	if resp.StatusCode != 200 || !bytes.Equal(body, in) {
		t.Errorf("POST /echo over tcp: status %d, %d bytes back of %d (first difference at %d)", resp.StatusCode, len(body), len(in), firstDiff(body, in))
	}
}
