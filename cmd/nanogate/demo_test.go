package main

// The demo that `make run` starts (nanogate.toml's route, the demo worker
// with --stream), driven by the clients a newcomer would use: curl for the
// event stream and the upload, Debian's python3-websockets for the
// WebSocket, nanogate push from the shell, and headless Chromium for the
// page.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
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
	b := startChromium(t)
	page := b.open(t, g.url+"/")
	page.waitFor(t, "SSE events", `Number(document.getElementById("sse-count").textContent) >= 3`)
	session := page.waitFor(t, "the session id", `document.getElementById("ws-session").textContent`)
	if len(session) != 32 {
		t.Fatalf("page shows session %q", session)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"push", "--inbound", inbound, "--session", session, "--text", "hello browser"}, &out, &errb); code != 0 {
		t.Fatalf("nanogate push: %s", errb.String())
	}
	page.waitFor(t, "the pushed message", `document.getElementById("ws-log").textContent.includes("hello browser") ? "yes" : ""`)
}

// browser is a headless Chromium driven over the DevTools protocol.
type browser struct {
	port string
}

func startChromium(t *testing.T) *browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not installed (run make deps): %v", err)
	}
	dir := t.TempDir()
	// The flags the machine notes ask for: no sandbox as root, and no
	// background traffic to hosts a closed network refuses.
	startProc(t, "chromium", bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+dir, "--remote-debugging-port=0", "about:blank")
	portFile := filepath.Join(dir, "DevToolsActivePort")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(portFile); err == nil && bytes.Contains(b, []byte("\n")) {
			return &browser{port: strings.SplitN(string(b), "\n", 2)[0]}
		}
		if time.Now().After(deadline) {
			t.Fatal("chromium did not start its DevTools server within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// page is one tab; its WebSocket carries DevTools commands.
type page struct {
	ws *websocket.Conn
	id int
}

func (b *browser) open(t *testing.T, url string) *page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:"+b.port+"/json/new?"+url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var target struct {
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&target); err != nil || target.WebSocketDebuggerURL == "" {
		t.Fatalf("new tab: %v %+v", err, target)
	}
	ws, _, err := websocket.DefaultDialer.Dial(target.WebSocketDebuggerURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &page{ws: ws}
}

// eval runs a JavaScript expression in the page and returns its value as a
// string.
func (p *page) eval(t *testing.T, expr string) string {
	t.Helper()
	p.id++
	p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	p.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := p.ws.WriteJSON(map[string]any{"id": p.id, "method": "Runtime.evaluate",
		"params": map[string]any{"expression": "String(" + expr + ")", "returnByValue": true}}); err != nil {
		t.Fatal(err)
	}
	for {
		var msg struct {
			ID     int `json:"id"`
			Result struct {
				Result struct {
					Value string `json:"value"`
				} `json:"result"`
			} `json:"result"`
		}
		if err := p.ws.ReadJSON(&msg); err != nil {
			t.Fatal(err)
		}
		if msg.ID == p.id {
			return msg.Result.Result.Value
		}
	}
}

// waitFor evaluates expr until it gives a value other than "", "false" or
// "0", and returns it; the page changes on events the test cannot see.
func (p *page) waitFor(t *testing.T, what, expr string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := p.eval(t, expr)
		if v != "" && v != "false" && v != "0" && v != "undefined" && v != "null" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("page: no %s within 20s (last %q)", what, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
