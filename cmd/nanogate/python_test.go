package main

// End-to-end tests of the Python SDK (backend-sdk/python): unchanged Flask
// and Django applications under nanogate-wsgi, and an unchanged Starlette
// application under nanogate-asgi, behind the real gateway. They need
// Debian's python3-flask, python3-django, python3-starlette and
// python3-websockets, which /usr/bin/python3 sees (make sdk-deps).

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/nanogate/nanogate/session"
)

const python = "/usr/bin/python3"

// pythonSDK is backend-sdk/python, absolute.
func pythonSDK(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../../backend-sdk/python")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// needPython skips the test when /usr/bin/python3 cannot import modules
// (the Debian packages of make sdk-deps).
func needPython(t testing.TB, modules ...string) {
	t.Helper()
	args := []string{"-c", "import " + strings.Join(modules, ", ")}
	if out, err := exec.Command(python, args...).CombinedOutput(); err != nil {
		t.Skipf("%s cannot import %s (make sdk-deps): %v\n%s", python, strings.Join(modules, ", "), err, out)
	}
}

// startPython runs `python3 -m nanogate.<server> app args...` in
// backend-sdk/python/examples (env -C: the process keeps env's PID, so the
// harness stops python itself) and waits for its "ready".
func startPython(t testing.TB, server, app string, args ...string) *proc {
	t.Helper()
	sdk := pythonSDK(t)
	argv := append([]string{"-C", filepath.Join(sdk, "examples"), "PYTHONPATH=" + sdk,
		python, "-m", "nanogate." + server, app}, args...)
	p := startProc(t, "nanogate-"+server+" "+app, "/usr/bin/env", argv...)
	p.waitFrom(t, 0, `"ready"`, startTimeout, func(line string) bool { return line == "ready" })
	return p
}

// pythonStack starts a WSGI app under nanogate-wsgi bound to an ipc
// endpoint and a gateway routing / to it.
func pythonStack(t *testing.T, app string) (*gateway, *proc) {
	t.Helper()
	ep := ipcURL(t, "py")
	w := startPython(t, "wsgi", app, "--bind", ep, "--threads", "8")
	g := startGateway(t, "--route", "/="+ep)
	g.waitConnected(t, 0, ep)
	return g, w
}

func pyJSON(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not JSON: %v: %q", err, body)
	}
	return m
}

func pySHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestPythonFlask(t *testing.T) {
	needPython(t, "flask")
	g, w := pythonStack(t, "flask_app:app")
	c := newClient(t)

	resp, body := get(t, c, g.url+"/text")
	if resp.StatusCode != 200 || string(body) != "hello from flask\n" {
		t.Fatalf("/text: %d %q", resp.StatusCode, body)
	}
	checkHeader(t, resp, "Content-Type", "text/plain; charset=utf-8")

	req := mustRequest(t, "GET", g.url+"/json?x=1&y=two", nil)
	req.Header.Set("Cookie", "c=3; d=4")
	_, body = do(t, c, req)
	m := pyJSON(t, body)
	if m["remote_addr"] != "127.0.0.1" || m["scheme"] != "http" || m["host"] != g.addr {
		t.Errorf("/json: %v", m)
	}
	if a, _ := m["args"].(map[string]any); a["x"] != "1" || a["y"] != "two" {
		t.Errorf("/json args: %v", m["args"])
	}
	if ck, _ := m["cookies"].(map[string]any); ck["c"] != "3" || ck["d"] != "4" {
		t.Errorf("/json cookies: %v", m["cookies"])
	}
	sid, _ := m["session_id"].(string)
	if !hexID.MatchString(sid) {
		t.Errorf("session id %q", sid)
	}
	// The same keep-alive connection is the same session.
	_, body = get(t, c, g.url+"/json")
	if again := pyJSON(t, body)["session_id"]; again != sid {
		t.Errorf("session id changed on a keep-alive connection: %v then %v", sid, again)
	}

	resp, _ = get(t, c, g.url+"/cookies")
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 || !strings.HasPrefix(got[0], "a=1;") || !strings.HasPrefix(got[1], "b=2;") || !strings.Contains(got[1], "HttpOnly") {
		t.Errorf("Set-Cookie = %q", got)
	}

	for _, code := range []int{201, 202, 404, 418, 503} {
		resp, _ := get(t, c, g.url+"/status/"+strconv.Itoa(code))
		if resp.StatusCode != code {
			t.Errorf("/status/%d: got %d", code, resp.StatusCode)
		}
	}
	resp, _ = get(t, c, g.url+"/redirect")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/text" {
		t.Errorf("/redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	resp, err := c.PostForm(g.url+"/form", url.Values{"name": {"ada lovelace"}, "n": {"1&2"}})
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	m = pyJSON(t, body)
	if f, _ := m["form"].(map[string]any); f["name"] != "ada lovelace" || f["n"] != "1&2" {
		t.Errorf("/form: %v", m)
	}

	payload := binaryBody(3<<20, 11)
	req = mustRequest(t, "POST", g.url+"/binary", payload)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, body = do(t, c, req)
	if resp.StatusCode != 200 || len(body) != len(payload) || pySHA(body) != pySHA(payload) {
		t.Errorf("/binary: %d, %d bytes, first difference at %d", resp.StatusCode, len(body), firstDiff(body, payload))
	}
	checkHeader(t, resp, "X-Sha256", pySHA(payload))

	mark := w.out.len()
	resp, _ = get(t, c, g.url+"/boom")
	rid := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 500 || rid == "" {
		t.Fatalf("/boom: %d, request id %q", resp.StatusCode, rid)
	}
	w.waitFrom(t, mark, "a log line with the request id "+rid, startTimeout, func(line string) bool {
		return strings.Contains(line, rid)
	})
}

func TestPythonDjango(t *testing.T) {
	needPython(t, "django")
	g, _ := pythonStack(t, "djsite.wsgi:application")
	c := newClient(t)

	resp, body := get(t, c, g.url+"/hello/")
	if resp.StatusCode != 200 || string(body) != "hello from django\n" {
		t.Fatalf("/hello/: %d %q", resp.StatusCode, body)
	}
	checkHeader(t, resp, "Content-Type", "text/plain; charset=utf-8")
	if ck := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(ck, "seen=yes;") {
		t.Errorf("Set-Cookie = %q", ck)
	}

	// CommonMiddleware's APPEND_SLASH redirect.
	resp, _ = get(t, c, g.url+"/hello")
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/hello/" {
		t.Errorf("/hello: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	req := mustRequest(t, "GET", g.url+"/info/?a=b", nil)
	req.Header.Set("Cookie", "k=v")
	req.Header.Set("X-Forwarded-For", "203.0.113.9") // the client's own: the gateway appends the real one
	_, body = do(t, c, req)
	m := pyJSON(t, body)
	if m["remote_addr"] != "127.0.0.1" || m["host"] != g.addr || m["secure"] != false {
		t.Errorf("/info/: %v", m)
	}
	if sid, _ := m["session_id"].(string); !hexID.MatchString(sid) {
		t.Errorf("session id %q", sid)
	}
	if q, _ := m["query"].(map[string]any); q["a"] != "b" {
		t.Errorf("query %v", m["query"])
	}
	if ck, _ := m["cookies"].(map[string]any); ck["k"] != "v" {
		t.Errorf("cookies %v", m["cookies"])
	}

	payload := binaryBody(300<<10, 5)
	req = mustRequest(t, "POST", g.url+"/upload/", payload)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, body = do(t, c, req)
	m = pyJSON(t, body)
	if resp.StatusCode != 201 || m["length"] != float64(len(payload)) || m["sha256"] != pySHA(payload) || m["content_type"] != "application/octet-stream" {
		t.Errorf("/upload/: %d %v", resp.StatusCode, m)
	}
	resp, _ = get(t, c, g.url+"/nowhere/")
	if resp.StatusCode != 404 {
		t.Errorf("/nowhere/: %d", resp.StatusCode)
	}
}

// framesConfig writes a gateway configuration with one route of format
// frames (WebSocket on) to endpoint ep, and returns its path.
func framesConfig(t *testing.T, ep, inbound string) string {
	t.Helper()
	return framesConfigWith(t, ep, inbound, "")
}

// framesConfigWith is framesConfig with server, [server] lines, first.
func framesConfigWith(t *testing.T, ep, inbound, server string) string {
	t.Helper()
	return writeFile(t, "nanogate.toml", fmt.Sprintf(`
[server]
%s
[sessions]
inbound = %q
[[route]]
path = "/"
format = "frames"
websocket = true
timeout = "5s"
endpoints = [%q]
`, server, inbound, ep))
}

// TestPythonFlaskStreaming: the same Flask app under nanogate-asgi --wsgi
// on a frames route: a generator of server-sent events arrives piece by
// piece, an upload is read as it comes, and an endless stream stops when
// its client leaves (SIGTERM then finds nothing running).
func TestPythonFlaskStreaming(t *testing.T) {
	needPython(t, "flask")
	dir := shortDir(t)
	ep, inbound := "ipc://"+filepath.Join(dir, "w.sock"), "ipc://"+filepath.Join(dir, "in.sock")
	w := startPython(t, "asgi", "flask_app:app", "--wsgi", "--threads", "4", "--bind", ep)
	g := startGateway(t, "--config", framesConfig(t, ep, inbound))
	g.waitConnected(t, 0, ep)
	c := newClient(t)

	resp, err := c.Get(g.url + "/events?n=4")
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("data: 0\n\n"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "data: 0\n\n" {
		t.Fatalf("first event %q, %v", first, err)
	}
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(rest) != "data: 1\n\ndata: 2\n\ndata: 3\n\n" || len(resp.TransferEncoding) == 0 {
		t.Errorf("events: %q %v, transfer encoding %v", rest, err, resp.TransferEncoding)
	}

	resp, body := get(t, c, g.url+"/text")
	if resp.StatusCode != 200 || string(body) != "hello from flask\n" {
		t.Errorf("/text: %d %q", resp.StatusCode, body)
	}
	resp, _ = get(t, c, g.url+"/cookies")
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 {
		t.Errorf("Set-Cookie = %q", got)
	}

	payload := binaryBody(3<<20, 9)
	req := mustRequest(t, "PUT", g.url+"/count", payload)
	req.ContentLength = -1
	_, body = do(t, c, req)
	if m := pyJSON(t, body); m["length"] != float64(len(payload)) || m["sha256"] != pySHA(payload) {
		t.Errorf("/count: %v", m)
	}

	// An endless stream whose client leaves.
	endless, err := c.Get(g.url + "/events?n=100000000")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(endless.Body, first); err != nil {
		t.Fatal(err)
	}
	endless.Body.Close()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
		if w.err != nil {
			t.Errorf("exited with %v after SIGTERM, want status 0", w.err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("still running 10 s after SIGTERM: the endless generator was not stopped")
	}
}

// TestPythonStarlette: an unchanged Starlette application under
// nanogate-asgi on a route of format frames: a plain reply, a streamed
// (chunked) response, a download larger than the stream window (credit),
// a streamed 5 MiB upload, a WebSocket echo with text, binary and the
// application's close code, then SIGTERM with a stream in flight.
func TestPythonStarlette(t *testing.T) {
	needPython(t, "starlette")
	dir := shortDir(t)
	ep, inbound := "ipc://"+filepath.Join(dir, "w.sock"), "ipc://"+filepath.Join(dir, "in.sock")
	cfg := framesConfig(t, ep, inbound)
	w := startPython(t, "asgi", "starlette_app:app", "--bind", ep)
	g := startGateway(t, "--config", cfg)
	g.waitConnected(t, 0, ep)
	c := newClient(t)

	resp, body := get(t, c, g.url+"/hello")
	if resp.StatusCode != 200 || string(body) != "hello from starlette\n" || resp.ContentLength != int64(len(body)) {
		t.Fatalf("/hello: %d %q (length %d)", resp.StatusCode, body, resp.ContentLength)
	}
	_, body = get(t, c, g.url+"/info?q=1")
	m := pyJSON(t, body)
	if m["client"] != "127.0.0.1" || m["scheme"] != "http" || !hexID.MatchString(fmt.Sprint(m["session_id"])) {
		t.Errorf("/info: %v", m)
	}

	resp, body = get(t, c, g.url+"/stream?n=4")
	if want := "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n"; string(body) != want || len(resp.TransferEncoding) == 0 {
		t.Errorf("/stream: %q, transfer encoding %v; want %q chunked", body, resp.TransferEncoding, want)
	}
	checkHeader(t, resp, "Content-Type", "text/event-stream; charset=utf-8")

	// 12 pieces of 300 000 bytes: 3.6 MB, past the 1 MiB window.
	_, body = get(t, c, g.url+"/stream?n=12&size=300000")
	want := make([]byte, 0, 12*300000)
	for i := range 12 {
		want = append(want, bytes.Repeat([]byte{byte('A' + i)}, 300000)...)
	}
	if !bytes.Equal(body, want) {
		t.Errorf("download: %d bytes, want %d, first difference at %d", len(body), len(want), firstDiff(body, want))
	}

	payload := binaryBody(5<<20, 3)
	req := mustRequest(t, "PUT", g.url+"/upload", payload)
	req.ContentLength = -1 // chunked: the worker reads it as it comes
	resp, body = do(t, c, req)
	m = pyJSON(t, body)
	if resp.StatusCode != 200 || m["length"] != float64(len(payload)) || m["sha256"] != pySHA(payload) {
		t.Errorf("upload: %d %v", resp.StatusCode, m)
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	for _, msg := range []string{"hello", strings.Repeat("x", 200<<10)} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := ws.ReadMessage()
		if err != nil || typ != websocket.TextMessage || string(got) != "echo: "+msg {
			t.Fatalf("text echo: type %d, %d bytes, %v", typ, len(got), err)
		}
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2, 255}); err != nil {
		t.Fatal(err)
	}
	if typ, got, err := ws.ReadMessage(); err != nil || typ != websocket.BinaryMessage || !bytes.Equal(got, []byte{255, 2, 1, 0}) {
		t.Fatalf("binary echo: type %d %v %v", typ, got, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("close")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, 4000) {
		t.Fatalf("after asking to close: %v, want close 4000", err)
	}

	// SIGTERM with a slow stream in flight: it completes, then the worker
	// exits 0.
	slow, err := c.Get(g.url + "/stream?n=30")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Body.Close()
	first := make([]byte, len("data: 0\n\n"))
	if _, err := io.ReadFull(slow.Body, first); err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(slow.Body)
	if err != nil || !strings.HasSuffix(string(rest), "data: 29\n\n") {
		t.Errorf("stream in flight at SIGTERM: %v, ends %q", err, rest[max(0, len(rest)-20):])
	}
	select {
	case <-w.done:
		if w.err != nil {
			t.Errorf("nanogate-asgi exited with %v after SIGTERM, want status 0", w.err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("nanogate-asgi still running 10 s after SIGTERM")
	}
}

// TestPythonDialRolling: two nanogate-wsgi workers dial a gateway endpoint
// in mode listen over TCP; one is stopped with SIGTERM while a client
// keeps sending, and no request fails (the drain notice), then the other
// serves alone.
func TestPythonDialRolling(t *testing.T) {
	needPython(t, "json") // nanogate-wsgi itself needs only the standard library
	ep := tcpURL(t)
	g := startListenGateway(t, ep)
	var ws []*proc
	for range 2 {
		w := startPython(t, "wsgi", "conformance:app", "--dial", ep, "--threads", "4")
		w.waitFrom(t, 0, "a connection to the gateway", startTimeout, func(line string) bool {
			return strings.Contains(line, "gateway connected on "+ep)
		})
		ws = append(ws, w)
	}
	c := newClient(t)
	stop := make(chan struct{})
	done := make(chan []string)
	go func() {
		var bad []string
		n := 0
		defer func() { done <- append(bad, fmt.Sprintf("%d requests", n)) }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			n++
			resp, err := c.Get(g.url + "/hello")
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(body) != "hello\n" {
				bad = append(bad, fmt.Sprintf("%d %q %v", resp.StatusCode, body, err))
			}
		}
	}()
	if err := ws[0].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ws[0].done:
		if ws[0].err != nil {
			t.Errorf("worker exited with %v after SIGTERM, want status 0", ws[0].err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker still running 10 s after SIGTERM")
	}
	// Requests after the first worker has gone: the other one serves them.
	g.waitFrom(t, g.out.len(), "a request served after the drain", startTimeout, func(line string) bool {
		return strings.Contains(line, "msg=access") && strings.Contains(line, "status=200")
	})
	close(stop)
	res := <-done
	if len(res) > 1 {
		t.Errorf("requests failed during the rolling stop (%s): %q", res[len(res)-1], res[:min(5, len(res)-1)])
	}
	t.Logf("%s during the stop, none failed", res[len(res)-1])
}

// TestPythonReplyWriter feeds the replies nanogate-wsgi writes
// (backend-sdk/python/tests/replies.py) to the gateway's own parser.
func TestPythonReplyWriter(t *testing.T) {
	needPython(t, "json")
	out, err := exec.Command(python, filepath.Join(pythonSDK(t), "tests", "replies.py")).Output()
	if err != nil {
		t.Fatalf("replies.py: %v", err)
	}
	var cases []struct {
		Name    string
		Head    bool
		Reply   []byte
		Status  int
		Body    []byte
		Cookies int
	}
	if err := json.Unmarshal(out, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 5 {
		t.Fatalf("only %d replies", len(cases))
	}
	for _, c := range cases {
		var r session.Response
		if err := r.Parse(c.Reply, c.Head); err != nil {
			t.Errorf("%s: the gateway refuses %q: %v", c.Name, c.Reply, err)
			continue
		}
		if r.Status != c.Status || (c.Body != nil && !bytes.Equal(r.Body, c.Body)) {
			t.Errorf("%s: status %d body %q, want %d %q", c.Name, r.Status, r.Body, c.Status, c.Body)
		}
		if n := bytes.Count(r.Header, []byte("Set-Cookie: ")); n != c.Cookies {
			t.Errorf("%s: %d Set-Cookie lines, want %d", c.Name, n, c.Cookies)
		}
	}
}

// TestPythonHello runs the hello of docs/sdk-python.md.
func TestPythonHello(t *testing.T) {
	needPython(t, "json")
	g, _ := pythonStack(t, "hello:app")
	resp, body := get(t, newClient(t), g.url+"/")
	re := regexp.MustCompile(`^hello from session [0-9a-f]{32}, you are 127\.0\.0\.1\n$`)
	if resp.StatusCode != 200 || !re.Match(body) {
		t.Fatalf("hello: %d %q", resp.StatusCode, body)
	}
}
