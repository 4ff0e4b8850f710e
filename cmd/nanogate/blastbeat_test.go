//go:build !nozmq

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The BlastBeat back end end to end: a real gateway loading BlastBeat's
// README configuration (an .ini, ports filled in), and the dealers of
// BlastBeat's README as Python 3 processes on Debian's python3-zmq
// (testdata/blastbeat/).

// bbStack is a gateway serving the virtual host of testdata/blastbeat/
// blastbeat.ini, nodes foobar1 and foobar2, and its ROUTER address.
type bbStack struct {
	g    *gateway
	zmq  string // tcp://127.0.0.1:PORT
	port int    // the HTTP port
}

func startBlastBeat(t *testing.T, args ...string) *bbStack {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skip("no " + python + " (Debian's python3-zmq)")
	}
	ini, err := os.ReadFile("testdata/blastbeat/blastbeat.ini")
	if err != nil {
		t.Fatal(err)
	}
	s := &bbStack{port: freePort(t)}
	zport := freePort(t)
	s.zmq = fmt.Sprintf("tcp://127.0.0.1:%d", zport)
	text := strings.NewReplacer("HTTP_PORT", fmt.Sprint(s.port), "ZMQ_PORT", fmt.Sprint(zport)).Replace(string(ini))
	path := filepath.Join(t.TempDir(), "blastbeat.ini")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, "nanogate", gatewayBin, append([]string{"--config", path}, args...)...)
	line := p.waitFrom(t, 0, `"nanogate listening"`, startTimeout, listeningAddr.MatchString)
	addr := listeningAddr.FindStringSubmatch(line)[1]
	s.g = &gateway{proc: p, addr: addr, url: "http://" + addr}
	return s
}

// dealer starts testdata/blastbeat/SCRIPT as node and waits until the
// gateway has heard it answer a ping.
func (s *bbStack) dealer(t *testing.T, script, node string, args ...string) *proc {
	t.Helper()
	from := s.g.out.len()
	d := startProc(t, node, python, append([]string{filepath.Join("testdata/blastbeat", script), node, s.zmq}, args...)...)
	s.waitNode(t, from, "blastbeat node available", node)
	return d
}

func (s *bbStack) waitNode(t *testing.T, from int, msg, node string) int {
	t.Helper()
	s.g.waitFrom(t, from, msg+" "+node, startTimeout, func(l string) bool {
		return strings.Contains(l, `msg="`+msg) && hasField(l, "node", node)
	})
	i, _, _ := s.g.out.find(from, func(l string) bool {
		return strings.Contains(l, `msg="`+msg) && hasField(l, "node", node)
	})
	return i + 1
}

// count is how many lines of p's output contain sub.
func count(p *proc, sub string) int {
	n := 0
	for i := 0; ; i++ {
		j, _, _ := p.out.find(i, func(l string) bool { return strings.Contains(l, sub) })
		if j < 0 {
			return n
		}
		n++
		i = j
	}
}

// waitCount waits until n lines of p's output contain sub.
func waitCount(t *testing.T, p *proc, sub string, n int) {
	t.Helper()
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	for {
		// The channel is taken before counting, so a line written
		// between the two wakes the wait.
		_, _, next := p.out.find(1<<30, func(string) bool { return false })
		if count(p, sub) >= n {
			return
		}
		select {
		case <-next:
		case <-deadline.C:
			t.Fatalf("%s: %d lines with %q, want %d; output:\n%s", p.name, count(p, sub), sub, n, p.out.tail(40))
		}
	}
}

// The README's hello dealer: headers, body, end. BlastBeat's end closes
// the connection, and so does nanogate's.
func TestBlastBeatHello(t *testing.T) {
	s := startBlastBeat(t)
	d := s.dealer(t, "hello.py", "foobar1")
	c := newClient(t)
	for range 3 {
		resp, body := get(t, c, s.g.url+"/")
		if resp.StatusCode != 200 || string(body) != "Hello World" || resp.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
		}
	}
	waitCount(t, d, "type uwsgi", 3)
	// The virtual host's own name matches too (its port is ignored).
	req := mustRequest(t, "GET", s.g.url+"/", nil)
	req.Host = fmt.Sprintf("localhost:%d", s.port)
	if resp, body := do(t, c, req); resp.StatusCode != 200 || string(body) != "Hello World" {
		t.Fatalf("Host localhost: %d %q", resp.StatusCode, body)
	}
	// An unknown virtual host is not BlastBeat's: 404.
	req.Host = "elsewhere.example"
	if resp, _ := do(t, c, req); resp.StatusCode != 404 {
		t.Fatalf("unknown host: %d", resp.StatusCode)
	}
}

// The README's chunked dealer: 99 chunk messages and an empty one.
func TestBlastBeatChunked(t *testing.T) {
	s := startBlastBeat(t)
	s.dealer(t, "chunked.py", "foobar1")
	resp, body := get(t, newClient(t), s.g.url+"/")
	var want strings.Builder
	for i := 1; i < 100; i++ {
		fmt.Fprintf(&want, "i am the number %d<br/>", i)
	}
	if resp.StatusCode != 200 || string(body) != want.String() || len(resp.TransferEncoding) != 1 {
		t.Fatalf("%d %v %q", resp.StatusCode, resp.TransferEncoding, body)
	}
}

// The request reaches the dealer as a uwsgi packet that the README's
// uwsgi_to_dict decodes into the environ BlastBeat sets; a body follows in
// body messages.
func TestBlastBeatUwsgi(t *testing.T) {
	s := startBlastBeat(t)
	s.dealer(t, "environ.py", "foobar1")
	c := newClient(t)
	req := mustRequest(t, "GET", s.g.url+"/some%20where/x?q=1&r=%41", nil)
	req.Header.Set("X-Custom-Thing", "v1")
	resp, body := do(t, c, req)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	for _, want := range []string{
		"REQUEST_METHOD=GET\n", "SCRIPT_NAME=\n", "PATH_INFO=/some%20where/x\n", "QUERY_STRING=q=1&r=%41\n",
		"SERVER_NAME=localhost\n", fmt.Sprintf("SERVER_PORT=%d\n", s.port), "SERVER_PROTOCOL=HTTP/1.1\n",
		"REMOTE_ADDR=127.0.0.1\n", "HTTP_X_CUSTOM_THING=v1\n", "HTTP_HOST=" + s.g.addr + "\n",
		"HTTP_X_NANOGATE_SESSION=",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("environ lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(string(body), "INBOUND") {
		t.Errorf("nanogate's inbound header reached the dealer:\n%s", body)
	}
	req = mustRequest(t, "POST", s.g.url+"/up", []byte("hello body"))
	req.Header.Set("Content-Type", "text/x-test")
	resp, body = do(t, c, req)
	for _, want := range []string{"REQUEST_METHOD=POST\n", "CONTENT_LENGTH=10\n", "CONTENT_TYPE=text/x-test\n", "BODY=hello body\n"} {
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("%d: no %q in\n%s", resp.StatusCode, want, body)
		}
	}
}

// The README's WebSocket echo dealer behind the gateway's handshake; the
// dealer is told end when the client leaves.
func TestBlastBeatWebSocket(t *testing.T) {
	s := startBlastBeat(t)
	d := s.dealer(t, "websocket.py", "foobar1")
	ws := startBBWSClient(t, "ws://"+s.g.addr+"/chat")
	ws.waitFrom(t, 0, "open", startTimeout, func(l string) bool { return l == "open" })
	for _, m := range []string{"hello", "héllo again"} {
		from := ws.out.len()
		fmt.Fprintf(ws.in, "text %s\n", m)
		ws.waitFrom(t, from, "echo", startTimeout, func(l string) bool { return l == "text received: "+m })
	}
	fmt.Fprintf(ws.in, "close 1000 bye\n")
	ws.waitFrom(t, 0, "closed", startTimeout, func(l string) bool { return strings.HasPrefix(l, "closed") })
	d.waitFrom(t, 0, "end", startTimeout, func(l string) bool { return l == "received a message of type end" })
}

// bbWSClient is testdata/ws_client.py with its stdin.
type bbWSClient struct {
	*proc
	in io.Writer
}

func startBBWSClient(t *testing.T, url string) *bbWSClient {
	t.Helper()
	p := &proc{name: "ws-client", out: newLineLog(), done: make(chan struct{})}
	p.cmd = exec.Command(python, "testdata/ws_client.py", url)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	in, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- ws-client\n%s", p.out.tail(30))
		}
	})
	t.Cleanup(p.kill)
	return &bbWSClient{proc: p, in: in}
}

// A dealer that stops answering pings (SIGSTOP) gets no new sessions
// within a few seconds, and gets them again once it answers (SIGCONT).
func TestBlastBeatPingEjection(t *testing.T) {
	s := startBlastBeat(t)
	d1 := s.dealer(t, "hello.py", "foobar1")
	d2 := s.dealer(t, "hello.py", "foobar2")
	c := newClient(t)
	from := s.g.out.len()
	stopped := time.Now()
	if err := d1.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d1.cmd.Process.Signal(syscall.SIGCONT) })
	from = s.waitNode(t, from, "blastbeat node not answering pings", "foobar1")
	t.Logf("foobar1 out of the choice %v after SIGSTOP", time.Since(stopped).Round(time.Millisecond))
	before1, before2 := count(d1, "type uwsgi"), count(d2, "type uwsgi")
	for range 5 {
		if resp, body := get(t, c, s.g.url+"/"); resp.StatusCode != 200 || string(body) != "Hello World" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	}
	// The dealers' output lags the responses a little: wait for it.
	waitCount(t, d2, "type uwsgi", before2+5)
	if n := count(d2, "type uwsgi") - before2; n != 5 {
		t.Fatalf("foobar2 served %d of 5", n)
	}
	if err := d1.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	s.waitNode(t, from, "blastbeat node available", "foobar1")
	// Both idle: the first node of the virtual host takes the next one.
	if resp, _ := get(t, c, s.g.url+"/"); resp.StatusCode != 200 {
		t.Fatalf("after SIGCONT: %d", resp.StatusCode)
	}
	waitCount(t, d1, "type uwsgi", before1+1)
}

// retry moves a request to the other node; a request that every node
// retries gets 502 after max-hops (10).
func TestBlastBeatRetry(t *testing.T) {
	s := startBlastBeat(t)
	h := s.dealer(t, "hold.py", "foobar1")
	hello := s.dealer(t, "hello.py", "foobar2")
	c := newClient(t)
	resp, body := get(t, c, s.g.url+"/retry")
	if resp.StatusCode != 200 || string(body) != "Hello World" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	waitCount(t, h, "foobar1 uwsgi", 1)
	waitCount(t, hello, "type uwsgi", 1)
	if count(h, "foobar1 uwsgi") != 1 || count(hello, "type uwsgi") != 1 {
		t.Fatalf("foobar1 saw %d, foobar2 %d", count(h, "foobar1 uwsgi"), count(hello, "type uwsgi"))
	}
	from := s.g.out.len()
	hello.kill()
	s.waitNode(t, from, "blastbeat node lost", "foobar2")
	h2 := s.dealer(t, "hold.py", "foobar2")
	resp, _ = get(t, c, s.g.url+"/retry")
	if resp.StatusCode != 502 {
		t.Fatalf("past max-hops: %d", resp.StatusCode)
	}
	// Once and 10 hops, alternating: foobar1 (the first of two idle nodes)
	// 6 times, after the one above, and foobar2 5 times.
	waitCount(t, h, "/retry", 7)
	waitCount(t, h2, "/retry", 5)
	if n := count(h, "/retry") - 1 + count(h2, "/retry"); n != 11 {
		t.Fatalf("the request was sent %d times, want 11 (once and 10 hops)", n)
	}
}

// New sessions go to the node with the fewest; a client that leaves makes
// the dealer see end.
func TestBlastBeatBalancing(t *testing.T) {
	s := startBlastBeat(t)
	h1 := s.dealer(t, "hold.py", "foobar1")
	h2 := s.dealer(t, "hold.py", "foobar2")
	var cancels []context.CancelFunc
	for i := range 6 {
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", s.g.url+"/stream", nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || line != "first piece\n" {
			t.Fatalf("stream %d: %q %v", i, line, err)
		}
		defer resp.Body.Close()
	}
	waitCount(t, h1, "/stream", 3)
	waitCount(t, h2, "/stream", 3)
	if n1, n2 := count(h1, "/stream"), count(h2, "/stream"); n1 != 3 || n2 != 3 {
		t.Fatalf("6 sessions went %d to foobar1 and %d to foobar2", n1, n2)
	}
	for _, cancel := range cancels {
		cancel()
	}
	for _, h := range []*proc{h1, h2} {
		waitCount(t, h, " end ", 3)
	}
}

// A dealer killed mid-request: 502 before its head, a cut connection after
// it, within a ping period or so, never a hang.
func TestBlastBeatDealerKilled(t *testing.T) {
	s := startBlastBeat(t)
	h := s.dealer(t, "hold.py", "foobar1")
	headDone := make(chan int, 1)
	go func() {
		resp, err := http.Get(s.g.url + "/head")
		if err != nil {
			headDone <- -1
			return
		}
		resp.Body.Close()
		headDone <- resp.StatusCode
	}()
	h.waitFrom(t, 0, "the request", startTimeout, func(l string) bool { return strings.HasSuffix(l, "/head") })
	killed := time.Now()
	h.kill()
	select {
	case code := <-headDone:
		if code != 502 {
			t.Fatalf("status %d, want 502", code)
		}
		t.Logf("502 %v after the kill", time.Since(killed).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("no answer 10s after the dealer died")
	}

	h = s.dealer(t, "hold.py", "foobar1")
	resp, err := http.Get(s.g.url + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || line != "first piece\n" {
		t.Fatalf("%q %v", line, err)
	}
	h.kill()
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(r); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the body ended cleanly after its dealer died; want a cut")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the body hangs 10s after its dealer died")
	}
}

// Bad input from a dealer is counted by reason and reaches no client: a
// frame for another node's request stays out of it.
func TestBlastBeatBadInput(t *testing.T) {
	s := startBlastBeat(t, "--admin", "127.0.0.1:0")
	line := s.g.waitFrom(t, 0, "admin listening", startTimeout, adminAddr.MatchString)
	metricsURL := "http://" + adminAddr.FindStringSubmatch(line)[1] + "/metrics"
	h := s.dealer(t, "hold.py", "foobar1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.g.url+"/stream", nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	l := h.waitFrom(t, 0, "the request", startTimeout, func(l string) bool { return strings.HasSuffix(l, "/stream") })
	sid := strings.Fields(l)[2]
	bad := startProc(t, "bad", python, "testdata/blastbeat/bad.py", "foobar2", s.zmq, sid)
	bad.waitFrom(t, 0, "sent", startTimeout, func(l string) bool { return l == "sent" })
	c := newClient(t)
	want := map[string]string{"blastbeat_malformed": "2", "blastbeat_unknown_type": "2", "blastbeat_unknown_sid": "1", "blastbeat_foreign_sid": "1"}
	var text string
	if !pollUntil(startTimeout, func() bool {
		_, b := get(t, c, metricsURL)
		text = string(b)
		for reason, n := range want {
			if !strings.Contains(text, `nanogate_dropped_frames_total{reason="`+reason+`"} `+n+"\n") {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("metrics, want %v:\n%s", want, grepLines(text, "dropped"))
	}
	s.g.waitFrom(t, 0, "the drop log", startTimeout, func(l string) bool { return strings.Contains(l, `msg="dropped blastbeat messages"`) })
	cancel()
	if b := <-got; strings.Contains(b, "not yours") || strings.Contains(b, "nobody") {
		t.Fatalf("the client got another node's frame: %q", b)
	}
	h.waitFrom(t, 0, "end", startTimeout, func(l string) bool { return strings.Contains(l, " end "+sid) })
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The same in nanogate's TOML, beside an ordinary route, on an ipc://
// ROUTER.
func TestBlastBeatTOML(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skip("no " + python)
	}
	router := ipcURL(t, "bb")
	conf := writeFile(t, "bb.toml", fmt.Sprintf(`
[blastbeat]
ping_freq = "500ms"

[[route]]
path = "/bb/"
format = "blastbeat"
nodes = ["app1"]
vhost = "example.test:8000"
endpoints = ["zmq+%s"]

[[route]]
path = "/"
endpoints = ["%s"]
`, router, ipcURL(t, "none")))
	g := startGateway(t, "--config", conf)
	s := &bbStack{g: g, zmq: router}
	s.dealer(t, "environ.py", "app1")
	resp, body := get(t, newClient(t), g.url+"/bb/x")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "PATH_INFO=/bb/x\n") ||
		!strings.Contains(string(body), "SERVER_NAME=example.test\nSERVER_PORT=8000\n") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}
