package main

// The end-to-end harness: real gateway and worker processes, real sockets.
//
// TestMain builds the gateway and backend-sdk/go/cmd/test-worker once into a
// temporary directory. Every process a test starts is stopped by its PID
// (Process.Kill, then Wait) in t.Cleanup, and its output is kept line by
// line so that tests can wait for a line ("ready", "nanogate listening",
// "worker connected") instead of sleeping, and so that a failing test shows
// the logs of the processes it ran. The helpers that both e2e_test.go and
// peers_test.go use are here too.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	gatewayBin string // the nanogate binary under test
	workerBin  string // backend-sdk/go/cmd/test-worker
	demoBin    string // backend-sdk/go/cmd/demo-worker, what make run starts
	buildDir   string // where they are built; C workers are built here too
)

// startTimeout bounds waiting for a process's readiness line.
const startTimeout = 10 * time.Second

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "nanogate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	buildDir = dir
	gatewayBin = filepath.Join(dir, "nanogate")
	workerBin = filepath.Join(dir, "test-worker")
	demoBin = filepath.Join(dir, "demo-worker")
	for _, b := range []struct{ out, pkg string }{
		{gatewayBin, "."},
		{workerBin, "github.com/nanogate/nanogate/backend-sdk/go/cmd/test-worker"},
		{demoBin, "github.com/nanogate/nanogate/backend-sdk/go/cmd/demo-worker"},
	} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build %s: %v\n%s", b.pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

// lineLog collects a process's output (an io.Writer for exec.Cmd) as lines
// and wakes those waiting for one.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{} // closed and replaced when a line arrives
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(bytes.TrimSuffix(l.partial[:i], []byte("\r"))))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// find returns the first line at index from or later that match accepts.
func (l *lineLog) find(from int, match func(string) bool) (idx int, line string, next <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := from; i < len(l.lines); i++ {
		if match(l.lines[i]) {
			return i, l.lines[i], nil
		}
	}
	return -1, "", l.changed
}

// len is the number of complete lines so far: a mark for waitFrom.
func (l *lineLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

func (l *lineLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	skipped := 0
	if len(lines) > n {
		skipped = len(lines) - n
		lines = lines[skipped:]
	}
	s := strings.Join(lines, "\n")
	if skipped > 0 {
		s = fmt.Sprintf("[%d earlier lines]\n%s", skipped, s)
	}
	if len(l.partial) > 0 {
		s += "\n" + string(l.partial)
	}
	return s
}

// proc is a process started by a test.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lineLog // stdout and stderr, interleaved
	done chan struct{}
	err  error // Wait's result, set before done closes
}

// startProc starts bin and registers its stop (by PID) and, if the test
// fails, the dump of its output.
func startProc(t testing.TB, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: newLineLog(), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s (pid %d) %s\n%s", name, p.cmd.Process.Pid, strings.Join(args, " "), p.out.tail(60))
		}
	})
	t.Cleanup(p.kill)
	return p
}

// kill stops the process with SIGKILL and waits for it; it may be called
// more than once.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill() // an error means it has exited already
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitFrom waits for a line at index from or later that match accepts and
// returns it; it fails the test if the process exits or the time is up.
func (p *proc) waitFrom(t testing.TB, from int, what string, timeout time.Duration, match func(string) bool) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		i, line, next := p.out.find(from, match)
		if i >= 0 {
			return line
		}
		select {
		case <-next:
		case <-p.done:
			if i, line, _ := p.out.find(from, match); i >= 0 {
				return line
			}
			t.Fatalf("%s exited (%v) before %s; output:\n%s", p.name, p.err, what, p.out.tail(40))
		case <-deadline.C:
			t.Fatalf("%s: no %s within %v; output:\n%s", p.name, what, timeout, p.out.tail(40))
		}
	}
}

// gateway is a running nanogate.
type gateway struct {
	*proc
	addr string // host:port it listens on
	url  string // "http://" + addr
}

var listeningAddr = regexp.MustCompile(`msg="nanogate listening" addr=(\S+)`)

// startGateway runs nanogate with --listen 127.0.0.1:0 and args, and waits
// until it listens.
func startGateway(t testing.TB, args ...string) *gateway {
	t.Helper()
	p := startProc(t, "nanogate", gatewayBin, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	line := p.waitFrom(t, 0, `"nanogate listening"`, startTimeout, listeningAddr.MatchString)
	addr := listeningAddr.FindStringSubmatch(line)[1]
	return &gateway{proc: p, addr: addr, url: "http://" + addr}
}

// waitConnected waits for a worker to connect to endpoint url, as logged
// at index from or later (0: since the start).
func (g *gateway) waitConnected(t testing.TB, from int, url string) {
	t.Helper()
	g.waitFrom(t, from, "worker connected to "+url, startTimeout, func(line string) bool {
		return strings.Contains(line, `msg="worker connected"`) && hasField(line, "endpoint", url)
	})
}

// hasField reports whether a slog text line has key=value.
func hasField(line, key, value string) bool {
	kv := " " + key + "=" + value
	return strings.Contains(line, kv+" ") || strings.HasSuffix(line, kv)
}

// startWorker runs the test worker with args and waits for its "ready".
func startWorker(t testing.TB, args ...string) *proc {
	t.Helper()
	p := startProc(t, "test-worker", workerBin, args...)
	p.waitFrom(t, 0, `"ready"`, startTimeout, func(line string) bool { return line == "ready" })
	return p
}

// startStack starts a test worker bound to endpoint with workerArgs, then a
// gateway with gatewayArgs, and waits until the gateway has connected to
// the worker.
func startStack(t testing.TB, endpoint string, workerArgs []string, gatewayArgs ...string) (*gateway, *proc) {
	t.Helper()
	w := startWorker(t, append([]string{"--bind", endpoint}, workerArgs...)...)
	g := startGateway(t, gatewayArgs...)
	g.waitConnected(t, 0, endpoint)
	return g, w
}

// startListenGateway runs a gateway whose one route ("/", timeout 5s)
// binds endpoint ep for workers to dial in (mode listen).
func startListenGateway(t testing.TB, ep string) *gateway {
	t.Helper()
	return startGateway(t, "--config", writeFile(t, "listen.toml", fmt.Sprintf(`
[[route]]
path = "/"
timeout = "5s"
  [[route.endpoint]]
  url = %q
  mode = "listen"
`, ep)))
}

// shortDir returns a new temporary directory with a short path, for unix
// socket paths (at most 107 bytes on Linux; t.TempDir embeds the test's
// name). It is removed when the test ends.
func shortDir(t testing.TB) string {
	t.Helper()
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "ng")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// ipcURL returns an ipc:// endpoint in a new short temporary directory.
func ipcURL(t testing.TB, name string) string {
	t.Helper()
	return "ipc://" + filepath.Join(shortDir(t), name+".sock")
}

// freePort returns a loopback TCP port that was free a moment ago. Another
// process may take it before it is used; the window is small, and on
// loopback ephemeral ports are rarely reused so soon.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// tcpURL returns a tcp:// endpoint on a free loopback port.
func tcpURL(t testing.TB) string {
	t.Helper()
	return "tcp://127.0.0.1:" + strconv.Itoa(freePort(t))
}

// endpointURL returns a new endpoint of the given transport, "ipc" or "tcp".
func endpointURL(t testing.TB, transport, name string) string {
	t.Helper()
	switch transport {
	case "ipc":
		return ipcURL(t, name)
	case "tcp":
		return tcpURL(t)
	}
	t.Fatalf("unknown transport %q", transport)
	return ""
}

// writeFile writes a file in a new temporary directory and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// countLines returns the number of lines in the test worker's count file;
// a missing file is 0.
func countLines(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// newClient returns an HTTP client of its own (so connections are not
// shared between tests) that does not follow redirects or use a proxy.
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// do sends req and returns the response with its body read.
func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

// get is do for a GET of url.
func get(t testing.TB, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

// rawConn is a client connection written to by hand, for what http.Client
// will not send (pipelining, smuggling shapes, oversize headers).
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawConn{Conn: c, br: bufio.NewReaderSize(c, 64<<10)}
}

func (c *rawConn) write(t testing.TB, s string) {
	t.Helper()
	if _, err := io.WriteString(c.Conn, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// read reads one response to a request of the given method, body included.
func (c *rawConn) read(t testing.TB, method string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading response body: %v", err)
	}
	resp.Body.Close()
	return resp, body
}

// expectClosed asserts that the server closes the connection without
// sending anything more.
func (c *rawConn) expectClosed(t testing.TB) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, err := c.br.ReadByte()
	switch {
	case err == nil:
		rest, _ := c.br.Peek(c.br.Buffered())
		t.Errorf("connection still open: read %q", append([]byte{b}, rest...))
	case err == io.EOF || isReset(err):
	default:
		t.Errorf("connection not closed: %v", err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// hexID matches a session id as sent to workers.
var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// pollUntil calls f until it returns true or the deadline passes, every
// 20 ms; it reports whether f returned true.
func pollUntil(timeout time.Duration, f func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkHeader asserts one response header value.
func checkHeader(t testing.TB, resp *http.Response, name, want string) {
	t.Helper()
	if got := resp.Header.Get(name); got != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

// binaryBody returns n pseudo-random bytes, every seventh a NUL.
func binaryBody(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		if i%7 == 0 {
			continue
		}
		b[i] = byte(r.Uint32())
	}
	return b
}

// firstDiff returns the index of the first byte where a and b differ.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// mustRequest returns a request with body.
func mustRequest(t testing.TB, method, url string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// runCheck runs `nanogate check path` and returns its exit status, stdout
// and stderr.
func runCheck(t *testing.T, path string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gatewayBin, "check", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("nanogate check: %v", err)
	return 0, "", ""
}

// names GETs /name n times and counts the answers; any status but 200
// fails the test.
func names(t *testing.T, g *gateway, n int) map[string]int {
	t.Helper()
	c := newClient(t)
	seen := make(map[string]int)
	for i := range n {
		resp, body := get(t, c, g.url+"/name")
		if resp.StatusCode != 200 {
			t.Fatalf("GET /name #%d: status %d body %q", i, resp.StatusCode, body)
		}
		seen[string(body)]++
	}
	return seen
}

// waitName polls GET /name until the worker called want answers, tolerating
// 502 and 503 (a worker going away) on the way.
func waitName(t *testing.T, g *gateway, want string, timeout time.Duration) {
	t.Helper()
	c := newClient(t)
	var last string
	ok := pollUntil(timeout, func() bool {
		resp, err := c.Get(g.url + "/name")
		if err != nil {
			last = err.Error()
			return false
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		last = fmt.Sprintf("status %d body %q", resp.StatusCode, body)
		switch resp.StatusCode {
		case 200, 502, 503:
		default:
			t.Errorf("while waiting for %q: %s", want, last)
		}
		return resp.StatusCode == 200 && string(body) == want
	})
	if !ok {
		t.Fatalf("worker %q never answered within %v; last answer: %s", want, timeout, last)
	}
}

// postResult is what postAsync's request got.
type postResult struct {
	status int
	body   string
	err    error
}

// postAsync POSTs body to url in the background, for tests that act while
// the request is in flight.
func postAsync(c *http.Client, url, body string) <-chan postResult {
	done := make(chan postResult, 1)
	go func() {
		resp, err := c.Post(url, "text/plain", strings.NewReader(body))
		if err != nil {
			done <- postResult{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- postResult{resp.StatusCode, string(b), err}
	}()
	return done
}
