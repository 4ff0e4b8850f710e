package main

// End-to-end tests of the Node.js SDK (backend-sdk/node, npm package
// nanogate-worker) behind the real gateway: the Express example app
// (express from npm, installed by `make sdk-deps`) answers unchanged, and
// the streaming example serves server-sent events, a streamed upload and a
// WebSocket echo on a route of format frames.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nodeSDK is the SDK's directory, from this package's.
var nodeSDK = filepath.Join("..", "..", "backend-sdk", "node")

// startNode runs one of the SDK's examples with args and waits for its
// line "ready".
func startNode(t testing.TB, script string, args ...string) *proc {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (make deps installs nodejs): %v", err)
	}
	if script == "express-app.js" { // the other examples need nothing from npm
		if _, err := os.Stat(filepath.Join(nodeSDK, "node_modules", "express")); err != nil {
			t.Fatalf("backend-sdk/node has no node_modules/express: run make sdk-deps (%v)", err)
		}
	}
	p := startProc(t, "node "+script, node, append([]string{filepath.Join(nodeSDK, "examples", script)}, args...)...)
	p.waitFrom(t, 0, `"ready"`, startTimeout, func(line string) bool { return line == "ready" })
	return p
}

// TestNodeExpress: backend-sdk/node/examples/express-app.js, an ordinary
// Express app, behind the gateway on an ipc endpoint it binds, and on a
// tcp endpoint where the gateway listens and the worker dials in.
func TestNodeExpress(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"bind-ipc", "dial-tcp"} {
		t.Run(mode, func(t *testing.T) {
			var g *gateway
			var w *proc
			if mode == "bind-ipc" {
				ep := ipcURL(t, "express")
				w = startNode(t, "express-app.js", "--bind", ep)
				g = startGateway(t, "--route", "/="+ep)
				g.waitConnected(t, 0, ep)
			} else {
				ep := tcpURL(t)
				g = startListenGateway(t, ep)
				w = startNode(t, "express-app.js", "--dial", ep)
				g.waitConnected(t, 0, ep)
			}
			testExpress(t, g, w)
		})
	}
}

func testExpress(t *testing.T, g *gateway, w *proc) {
	c := newClient(t)
	t.Run("send", func(t *testing.T) {
		resp, body := get(t, c, g.url+"/hello")
		if resp.StatusCode != 200 || string(body) != "hello from express\n" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		checkHeader(t, resp, "Content-Type", "text/html; charset=utf-8")
		checkHeader(t, resp, "X-Powered-By", "Express")
		if resp.Header.Get("ETag") == "" {
			t.Errorf("no ETag: %v", resp.Header)
		}
	})
	t.Run("json-and-session", func(t *testing.T) {
		var sessions []string
		for range 2 { // one keep-alive connection: one session
			resp, body := get(t, c, g.url+"/json?a=1")
			var v struct {
				Method, Path, Session string
				Query                 map[string]string
			}
			if err := json.Unmarshal(body, &v); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%d %q: %v", resp.StatusCode, body, err)
			}
			checkHeader(t, resp, "Content-Type", "application/json; charset=utf-8")
			if v.Method != "GET" || v.Path != "/json" || v.Query["a"] != "1" || !hexID.MatchString(v.Session) {
				t.Fatalf("%+v", v)
			}
			sessions = append(sessions, v.Session)
		}
		if sessions[0] != sessions[1] {
			t.Errorf("two requests of one connection, sessions %v", sessions)
		}
	})
	t.Run("cookies", func(t *testing.T) {
		req := mustRequest(t, "GET", g.url+"/cookies", nil)
		req.Header.Add("Cookie", "x=1")
		req.Header.Add("Cookie", "y=2")
		resp, body := do(t, c, req)
		got := resp.Header.Values("Set-Cookie")
		if want := []string{"a=1; Path=/", "b=2; Path=/; HttpOnly"}; !slices.Equal(got, want) {
			t.Errorf("Set-Cookie %q, want %q", got, want)
		}
		if string(body) != "cookies you sent: x=1; y=2\n" {
			t.Errorf("body %q", body)
		}
	})
	t.Run("status", func(t *testing.T) {
		for _, code := range []int{201, 204, 301, 404, 500} {
			resp, body := get(t, c, fmt.Sprintf("%s/status/%d", g.url, code))
			if resp.StatusCode != code || resp.Header.Get("X-Status") != strconv.Itoa(code) {
				t.Errorf("%d: status %d X-Status %q", code, resp.StatusCode, resp.Header.Get("X-Status"))
			}
			switch code {
			case 204:
				if len(body) != 0 {
					t.Errorf("204 with body %q", body)
				}
			case 301:
				checkHeader(t, resp, "Location", "/hello")
			default:
				if want := fmt.Sprintf("status %d\n", code); string(body) != want {
					t.Errorf("%d: body %q, want %q", code, body, want)
				}
			}
		}
	})
	t.Run("head", func(t *testing.T) {
		resp, body := do(t, c, mustRequest(t, "HEAD", g.url+"/hello", nil))
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Fatalf("HEAD: %d %q", resp.StatusCode, body)
		}
		checkHeader(t, resp, "Content-Type", "text/html; charset=utf-8")
	})
	t.Run("trust-proxy-ip", func(t *testing.T) {
		// The client, a proxy on loopback, names 203.0.113.9; the gateway
		// appends the client's address (127.0.0.1), which
		// req.socket.remoteAddress is, and 'trust proxy' = loopback makes
		// req.ip the proxy's client.
		req := mustRequest(t, "GET", g.url+"/ip", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		_, body := do(t, c, req)
		var v struct {
			IP, Protocol, Remote string
			IPs                  []string
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if v.IP != "203.0.113.9" || v.Remote != "127.0.0.1" || v.Protocol != "http" {
			t.Errorf("%+v", v)
		}
		// Without a proxy of its own, the client is the address the gateway saw.
		_, body = get(t, c, g.url+"/ip")
		if err := json.Unmarshal(body, &v); err != nil || v.IP != "127.0.0.1" {
			t.Errorf("%q: %v", body, err)
		}
	})
	t.Run("raw-upload", func(t *testing.T) {
		for _, n := range []int{0, 1, 5 << 20} {
			payload := binaryBody(n, uint64(n))
			for _, chunked := range []bool{false, true} {
				req := mustRequest(t, "POST", g.url+"/upload", payload)
				req.Header.Set("Content-Type", "application/x-thing")
				if chunked {
					req.ContentLength = -1 // Go sends it chunked; the app sees it de-chunked
					req.Body = io.NopCloser(bytes.NewReader(payload))
				}
				resp, body := do(t, c, req)
				var v struct {
					Length       int
					SHA256, Type string
				}
				if err := json.Unmarshal(body, &v); err != nil || resp.StatusCode != 200 {
					t.Fatalf("%d bytes (chunked %v): %d %q: %v", n, chunked, resp.StatusCode, body, err)
				}
				sum := sha256.Sum256(payload)
				if v.Length != n || v.SHA256 != hex.EncodeToString(sum[:]) || v.Type != "application/x-thing" {
					t.Errorf("%d bytes (chunked %v): %+v", n, chunked, v)
				}
			}
		}
	})
	t.Run("send-file", func(t *testing.T) {
		want, err := os.ReadFile(filepath.Join(nodeSDK, "examples", "express-app.js"))
		if err != nil {
			t.Fatal(err)
		}
		resp, body := get(t, c, g.url+"/source")
		if resp.StatusCode != 200 || !bytes.Equal(body, want) || resp.Header.Get("ETag") == "" {
			t.Fatalf("%d, %d bytes of %d, %v", resp.StatusCode, len(body), len(want), resp.Header)
		}
		req := mustRequest(t, "GET", g.url+"/source", nil)
		req.Header.Set("Range", "bytes=0-9")
		resp, body = do(t, c, req)
		if resp.StatusCode != 206 || !bytes.Equal(body, want[:10]) {
			t.Errorf("range: %d %q", resp.StatusCode, body)
		}
	})
	t.Run("binary-reply", func(t *testing.T) {
		_, body := get(t, c, g.url+"/bytes")
		if !bytes.Equal(body, []byte{0, 1, 2, 255, 0, 10, 13}) {
			t.Errorf("%v", body)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, path := range []string{"/error", "/async-error"} {
			req := mustRequest(t, "GET", g.url+path, nil)
			req.Header.Set("X-Request-Id", "node-e2e"+strings.ReplaceAll(path, "/", "-"))
			resp, _ := do(t, c, req)
			if resp.StatusCode != 500 {
				t.Errorf("%s: status %d", path, resp.StatusCode)
			}
			id := req.Header.Get("X-Request-Id")
			w.waitFrom(t, 0, "a log line naming "+id, 5*time.Second, func(l string) bool { return strings.Contains(l, "request_id="+id) })
		}
		resp, _ := get(t, c, g.url+"/no/such/route")
		if resp.StatusCode != 404 {
			t.Errorf("unknown route: %d", resp.StatusCode)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		const n = 50
		errs := make(chan error, n)
		for i := range n {
			go func() {
				resp, err := c.Get(fmt.Sprintf("%s/json?i=%d", g.url, i))
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.Contains(string(body), fmt.Sprintf(`"i":"%d"`, i)) {
					err = fmt.Errorf("request %d got %q", i, body)
				}
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
}

// TestNodeStream: backend-sdk/node/examples/stream-app.js on a route of
// format frames with WebSocket on: events reach the client as the worker
// writes them, uploads stream in, a download larger than the stream's
// window waits on the gateway's credit, the client's leaving reaches the
// listener, and a WebSocket echoes, takes a push and is closed by the
// worker (Debian's python3-websockets as the client).
func TestNodeStream(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	ep, inbound := "ipc://"+filepath.Join(dir, "w.sock"), "ipc://"+filepath.Join(dir, "in.sock")
	w := startNode(t, "stream-app.js", "--bind", ep)
	g := startGateway(t, "--config", framesConfigWith(t, ep, inbound, `max_body_bytes = "64MiB"`))
	g.waitConnected(t, 0, ep)
	c := newClient(t)

	t.Run("whole-reply", func(t *testing.T) {
		resp, body := get(t, c, g.url+"/hello")
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello from a frames route, session ") {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		// Ended in the tick it began: sent whole, with its length.
		if resp.ContentLength != int64(len(body)) {
			t.Errorf("Content-Length %d, body %d bytes (%v)", resp.ContentLength, len(body), resp.TransferEncoding)
		}
	})
	t.Run("sse", func(t *testing.T) {
		resp, err := c.Get(g.url + "/sse?n=4")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		checkHeader(t, resp, "Content-Type", "text/event-stream")
		sc := bufio.NewScanner(resp.Body)
		var at []time.Time
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				at = append(at, time.Now())
			}
		}
		if len(at) != 4 || sc.Err() != nil {
			t.Fatalf("%d events: %v", len(at), sc.Err())
		}
		// One every 200 ms, as written: none held back to go out together.
		if gap := at[3].Sub(at[0]); gap < 450*time.Millisecond {
			t.Errorf("4 events within %v", gap)
		}
	})
	t.Run("client-gone", func(t *testing.T) {
		conn, br := rawGet(t, g, "/sse?n=100")
		if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
			t.Fatalf("%q %v", line, err)
		}
		mark := w.out.len()
		conn.Close()
		w.waitFrom(t, mark, "the listener told of the client's leaving", 10*time.Second, func(l string) bool {
			return strings.Contains(l, "client gone after")
		})
	})
	t.Run("upload", func(t *testing.T) {
		payload := binaryBody(9<<20, 3)
		sum := sha256.Sum256(payload)
		want := fmt.Sprintf(`{"bytes":%d,"sha256":"%s"}`, len(payload), hex.EncodeToString(sum[:]))
		for _, chunked := range []bool{false, true} {
			req := mustRequest(t, "POST", g.url+"/upload", payload)
			if chunked {
				req.ContentLength = -1
				req.Body = io.NopCloser(bytes.NewReader(payload))
			}
			resp, body := do(t, c, req)
			if resp.StatusCode != 200 || string(body) != want {
				t.Errorf("chunked %v: %d %q", chunked, resp.StatusCode, body)
			}
		}
	})
	t.Run("download-past-the-window", func(t *testing.T) {
		resp, err := c.Get(g.url + "/big?mb=24")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || n != 24<<20 || resp.ContentLength != 24<<20 {
			t.Fatalf("%d bytes of %d: %v", n, resp.ContentLength, err)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		ws := startPythonWS(t, "ws://"+g.addr+"/ws")
		ws.expect(t, equals("open"), "open")
		first := ws.expect(t, func(l string) bool { return strings.HasPrefix(l, "text session ") }, "the session id")
		session := strings.TrimPrefix(first, "text session ")
		if !hexID.MatchString(session) {
			t.Fatalf("session %q", session)
		}
		ws.send("text héllo")
		ws.expect(t, equals("text héllo"), "the text echo")
		ws.send("binary 00ff10")
		ws.expect(t, equals("binary 00ff10"), "the binary echo")
		ws.send("fragments frag men ted")
		ws.expect(t, equals("text fragmented"), "the reassembled message")
		var out, errb bytes.Buffer
		if code := run([]string{"push", "--inbound", inbound, "--session", session, "--text", "pushed"}, &out, &errb); code != 0 {
			t.Fatalf("nanogate push: %d %s", code, errb.String())
		}
		ws.expect(t, equals("text pushed"), "the push")
		mark := w.out.len()
		ws.send("text close")
		ws.expect(t, equals("closed 4000 bye"), "the worker's close")
		w.waitFrom(t, mark, "the listener's close event", 5*time.Second, func(l string) bool { return strings.HasSuffix(l, "closed 4000 bye") })
	})
	t.Run("websocket-client-closes", func(t *testing.T) {
		ws := startPythonWS(t, "ws://"+g.addr+"/ws")
		ws.expect(t, equals("open"), "open")
		ws.expect(t, func(l string) bool { return strings.HasPrefix(l, "text session ") }, "the session id")
		mark := w.out.len()
		ws.send("close 1001 leaving")
		ws.expect(t, func(l string) bool { return strings.HasPrefix(l, "closed 1001") }, "the close")
		w.waitFrom(t, mark, "the listener's close event", 5*time.Second, func(l string) bool { return strings.HasSuffix(l, "closed 1001 leaving") })
	})
}

// TestNodeStreamDial: the frames example dials a gateway that listens on
// tcp (endpoint mode "listen"), and comes back after the gateway restarts.
func TestNodeStreamDial(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	ep, inbound := tcpURL(t), "ipc://"+filepath.Join(dir, "in.sock")
	cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(`
[sessions]
inbound = %q
[[route]]
path = "/"
format = "frames"
timeout = "5s"
[[route.endpoint]]
url = %q
mode = "listen"
`, inbound, ep))
	g := startGateway(t, "--config", cfg)
	startNode(t, "stream-app.js", "--dial", ep)
	g.waitConnected(t, 0, ep)
	c := newClient(t)
	resp, body := get(t, c, g.url+"/hello")
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello from a frames route") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	g.kill()
	g = startGateway(t, "--config", cfg)
	g.waitConnected(t, 0, ep)
	resp, body = get(t, newClient(t), g.url+"/hello")
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello from a frames route") {
		t.Fatalf("after the gateway's restart: %d %q", resp.StatusCode, body)
	}
}
