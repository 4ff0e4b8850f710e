package main

// The demo that `make run` starts (nanogate.toml's route, the demo worker
// with --stream), driven by the clients a newcomer would use: curl for the
// event stream and the upload, Debian's python3-websockets for the
// WebSocket, nanogate push from the shell, and headless Chromium for the
// page.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nanogate/nanogate/internal/chromium"
)

// startDemo runs the demo worker and a gateway on the shipped
// nanogate.toml, with its socket paths moved to a temporary directory.
func startDemo(t *testing.T) (g *gateway, inbound string) {
	t.Helper()
	shipped, err := os.ReadFile(filepath.Join("..", "..", "nanogate.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := shortDir(t)
	ep, inbound := "ipc://"+filepath.Join(dir, "demo.sock"), "ipc://"+filepath.Join(dir, "in.sock")
	cfg := strings.NewReplacer("ipc:///tmp/nanogate-demo.sock", ep, "ipc:///tmp/nanogate-inbound.sock", inbound).Replace(string(shipped))
	if !strings.Contains(cfg, ep) || !strings.Contains(cfg, inbound) {
		t.Fatalf("nanogate.toml no longer names the demo's sockets:\n%s", shipped)
	}
	w := startProc(t, "demo-worker", demoBin, "--stream", "--bind", ep)
	w.waitFrom(t, 0, "demo worker ready", startTimeout, func(l string) bool { return strings.Contains(l, "demo worker") })
	g = startGateway(t, "--config", writeFile(t, "nanogate.toml", cfg))
	g.waitConnected(t, 0, ep)
	return g, inbound
}

func TestDemo(t *testing.T) {
	t.Parallel()
	g, inbound := startDemo(t)
	t.Run("page", func(t *testing.T) {
		resp, err := http.Get(g.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "EventSource") {
			t.Fatalf("GET /: %d %.200q", resp.StatusCode, body)
		}
	})
	t.Run("sse-curl", func(t *testing.T) { testDemoSSE(t, g) })
	t.Run("upload-curl", func(t *testing.T) { testDemoUpload(t, g) })
	t.Run("websocket-python", func(t *testing.T) { testDemoPython(t, g, inbound) })
	t.Run("chromium", func(t *testing.T) { testDemoChromium(t, g, inbound) })
}

// testDemoSSE: curl --no-buffer sees events one by one, 200 ms apart, and
// the worker's handler ends when curl leaves.
func testDemoSSE(t *testing.T, g *gateway) {
	cmd := exec.Command("curl", "-sS", "--no-buffer", "--max-time", "10", g.url+"/api/sse")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("curl: %v (run make deps)", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(out)
	var at []time.Time
	for len(at) < 3 && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			at = append(at, time.Now())
		}
	}
	if len(at) < 3 {
		t.Fatalf("%d events before curl ended: %v", len(at), sc.Err())
	}
	if gap := at[2].Sub(at[0]); gap < 300*time.Millisecond {
		t.Fatalf("3 events within %v: not one every 200 ms as they happen", gap)
	}
}

func testDemoUpload(t *testing.T, g *gateway) {
	f := filepath.Join(t.TempDir(), "up")
	if err := os.WriteFile(f, bytes.Repeat([]byte("nanogate\x00"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--data-binary", "@" + f},                                     // Content-Length
		{"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + f}, // chunked
		{"-T", f}, // PUT, as the README shows
	} {
		out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "20", g.url + "/api/upload"}, args...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "9437184") {
			t.Fatalf("curl %v: %v %s", args, err, out)
		}
	}
}

// wsClient is the python3-websockets client of testdata/ws_client.py.
type wsClient struct {
	in    io.WriteCloser
	lines chan string
}

func startPythonWS(t *testing.T, url string) *wsClient {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", "testdata/ws_client.py", url)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &wsClient{in: in, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("ws_client.py stderr:\n%s", stderr.String())
		}
	})
	return c
}

func (c *wsClient) expect(t *testing.T, want func(string) bool, what string) string {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			t.Fatalf("client ended before %s", what)
		}
		if !want(l) {
			t.Fatalf("client printed %q, want %s", l, what)
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
	}
	return ""
}

func (c *wsClient) send(line string) { fmt.Fprintln(c.in, line) }

func equals(s string) func(string) bool { return func(l string) bool { return l == s } }

// testDemoPython: the demo's /api/ws with Debian's python3-websockets: the
// session id first, echoes with their type, pushes from the shell, and a
// close code set by nanogate push.
func testDemoPython(t *testing.T, g *gateway, inbound string) {
	c := startPythonWS(t, "ws://"+g.addr+"/api/ws")
	c.expect(t, equals("open"), "open")
	first := c.expect(t, func(l string) bool { return strings.HasPrefix(l, "text session ") }, "the session id")
	session := strings.TrimPrefix(first, "text session ")
	c.send("text héllo")
	c.expect(t, equals("text héllo"), "the text echo")
	c.send("binary 00ff10")
	c.expect(t, equals("binary 00ff10"), "the binary echo")
	// One message in three frames reaches the worker whole (RFC 6455
	// section 5.4), and a ping is answered by the gateway.
	c.send("fragments frag men ted")
	c.expect(t, equals("text fragmented"), "the reassembled message")
	c.send("ping")
	c.expect(t, equals("pong"), "the pong")
	push := func(args ...string) {
		var out, errb bytes.Buffer
		if code := run(append([]string{"push", "--inbound", inbound, "--session", session}, args...), &out, &errb); code != 0 {
			t.Fatalf("nanogate push %v: %d %s", args, code, errb.String())
		}
	}
	push("--text", "from the shell")
	c.expect(t, equals("text from the shell"), "the pushed text")
	bin := filepath.Join(t.TempDir(), "b")
	os.WriteFile(bin, []byte{1, 2, 3}, 0o644)
	push("--binary", bin)
	c.expect(t, equals("binary 010203"), "the pushed binary")
	push("--close", "--code", "4000", "--reason", "bye")
	c.expect(t, equals("closed 4000 bye"), "close 4000")
}

// testDemoChromium loads the page in headless Chromium: the SSE clock
// ticks, the WebSocket shows its session, and a push reaches the page.
func testDemoChromium(t *testing.T, g *gateway, inbound string) {
	page := chromium.Start(t).Open(t, g.url+"/")
	page.WaitFor(t, "SSE events", `Number(document.getElementById("sse-count").textContent) >= 3`)
	session := page.WaitFor(t, "the session id", `document.getElementById("ws-session").textContent`)
	if len(session) != 32 {
		t.Fatalf("page shows session %q", session)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"push", "--inbound", inbound, "--session", session, "--text", "hello browser"}, &out, &errb); code != 0 {
		t.Fatalf("nanogate push: %s", errb.String())
	}
	page.WaitFor(t, "the pushed message", `document.getElementById("ws-log").textContent.includes("hello browser") ? "yes" : ""`)
}
