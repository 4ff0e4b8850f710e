package main

// ZHTTP handlers behind nanogate: nanogate's own Python handlers
// (testdata/condure), written the way Condure's examples are (the same
// sockets, ids and packets; Condure's own files are not in this repository:
// the project commits no peer code), run by /usr/bin/python3 with Debian's
// python3-zmq against real libzmq sockets and a real gateway. The handlers
// connect to ipc://client-out and friends relative to their working
// directory, as in Condure's README, so each test runs them in a directory
// of its own and gives the gateway the absolute base of that directory.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/nanogate/nanogate/protocol/zhttp"
)

const debianPython = "/usr/bin/python3" // Debian's: the one that sees python3-zmq

// zhttpDir is a short directory for the ipc sockets, and the base there.
func zhttpDir(t *testing.T) (dir, base string) {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if err := exec.Command(debianPython, "-c", "import zmq").Run(); err != nil {
		t.Skip("python3-zmq is not installed")
	}
	dir = shortDir(t)
	return dir, "ipc://" + filepath.Join(dir, "client")
}

// startHandler runs a handler script of testdata/condure in dir, with the
// directory's tnetstring module on PYTHONPATH; stopped by PID at the end.
func startHandler(t *testing.T, dir, script string, args ...string) *proc {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("testdata", "condure"))
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: script, out: newLineLog(), done: make(chan struct{})}
	p.cmd = exec.Command(debianPython, append([]string{"-u", filepath.Join(src, script)}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "PYTHONPATH="+src)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", script, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s (pid %d)\n%s", script, p.cmd.Process.Pid, p.out.tail(40))
		}
	})
	t.Cleanup(p.kill)
	return p
}

// lineChan delivers the first line of p at index from or later that
// match accepts; it gives up when p exits.
func lineChan(p *proc, from int, match func(string) bool) <-chan string {
	ch := make(chan string, 1)
	go func() {
		for {
			i, line, next := p.out.find(from, match)
			if i >= 0 {
				ch <- line
				return
			}
			select {
			case <-next:
			case <-p.done:
				return
			}
		}
	}()
	return ch
}

// answer is a response read on another goroutine (which must not call
// t.Fatal): its status and body, or the error.
type answer struct {
	status int
	body   []byte
	err    error
}

// getAsync GETs url on its own goroutine.
func getAsync(c *http.Client, url string) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		resp, err := c.Get(url)
		if err != nil {
			ch <- answer{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		ch <- answer{resp.StatusCode, b, err}
	}()
	return ch
}

// handOver sends GET url until handler h takes it (prints a line that
// match accepts, returned) and returns the pending answer. Until h's PULL
// has connected, the gateway answers 502 at once (no handler).
func handOver(t *testing.T, c *http.Client, url string, h *proc, match func(string) bool) (string, <-chan answer) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		took := lineChan(h, h.out.len(), match)
		done := getAsync(c, url)
		select {
		case r := <-done:
			if r.err != nil || r.status != http.StatusBadGateway || attempt > 500 {
				t.Fatalf("before a handler: %d %v", r.status, r.err)
			}
			time.Sleep(10 * time.Millisecond) // paces the retries: a PULL's connection is not observable
		case line := <-took:
			return line, done
		case <-time.After(10 * time.Second):
			t.Fatalf("%s took no request", h.name)
		}
	}
}

// zhttpConfig writes a gateway config with one zhttp stream route.
func zhttpConfig(t *testing.T, base, extra string) string {
	if !strings.Contains("\n"+extra, "\ntimeout = ") {
		extra += "timeout = \"3s\"\n" // an answer lost to a late subscription costs 3s, not 30s
	}
	return writeFile(t, "nanogate.toml", fmt.Sprintf("[[route]]\npath = \"/\"\nformat = \"zhttp\"\nzhttp_stream = %q\n%s", base, extra))
}

// getUntil GETs url until it answers 200 (a handler's PUB may not have the
// gateway's subscription yet when its first answer leaves: libzmq drops
// it, and that request times out), and returns the answer.
func getUntil(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	c := newClient(t)
	var resp *http.Response
	var body []byte
	if !pollUntil(20*time.Second, func() bool {
		resp, body = get(t, c, url)
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("no 200 from %s: last %d %q", url, resp.StatusCode, body)
	}
	return resp, body
}

// Condure's README, first example: `condure --listen 8000 --zclient-stream
// ipc://client` and a hello handler (PULL and PUB, hello_handler.py), with
// nanogate in Condure's place and Condure's flags.
func TestZHTTPHello(t *testing.T) {
	dir, base := zhttpDir(t)
	g := startGateway(t, "--zclient-stream", base, "--timeout", "3s", "--admin", "127.0.0.1:0")
	h := startHandler(t, dir, "hello_handler.py")
	resp, body := getUntil(t, g.url+"/hello?x=1")
	if string(body) != "hello world\n" || resp.Header.Get("Content-Type") != "text/plain" || resp.ContentLength != 12 {
		t.Fatalf("%d %v %q", resp.StatusCode, resp.Header, body)
	}
	// The handler saw a ZHTTP request: from, id, method, absolute uri.
	h.waitFrom(t, 0, "the request", 5*time.Second, func(l string) bool {
		return strings.HasPrefix(l, "IN ") && strings.Contains(l, "b'from': b'nanogate'") &&
			strings.Contains(l, "b'uri': b'http://"+g.addr+"/hello?x=1'") && strings.Contains(l, "b'method': b'GET'")
	})
	// A small POST rides whole in the first packet.
	c := newClient(t)
	resp, body = do(t, c, mustRequest(t, "POST", g.url+"/post", []byte("abc")))
	if resp.StatusCode != 200 || string(body) != "hello world\n" {
		t.Fatalf("POST: %d %q", resp.StatusCode, body)
	}
	h.waitFrom(t, 0, "the POST body", 5*time.Second, func(l string) bool {
		return strings.Contains(l, "b'method': b'POST'") && strings.Contains(l, "b'body': b'abc'") && !strings.Contains(l, "b'more'")
	})
	// The admin listener describes the route and counts its requests.
	line := g.waitFrom(t, 0, "admin listening", startTimeout, adminAddr.MatchString)
	admin := "http://" + adminAddr.FindStringSubmatch(line)[1]
	for _, path := range []string{"/", "/metrics", "/readyz"} {
		resp, body := get(t, c, admin+path)
		if resp.StatusCode != 200 || path == "/" && !strings.Contains(string(body), "zhttp stream "+base) ||
			path == "/metrics" && !strings.Contains(string(body), `nanogate_dropped_frames_total{reason="zhttp_malformed"} 0`) {
			t.Fatalf("%s: %d %.300q", path, resp.StatusCode, body)
		}
	}
}

// Condure's README, second example, with our pair: ids_printer.py prints
// each request's from and id, and answer_by_id.py, a process that never saw
// the request, answers it by id.
func TestZHTTPAnswerFromAnotherProcess(t *testing.T) {
	dir, base := zhttpDir(t)
	g := startGateway(t, "--zclient-stream", base, "--timeout", "12s") // room for answer_by_id.py to try again
	pr := startHandler(t, dir, "ids_printer.py")
	line, done := handOver(t, newClient(t), g.url+"/x", pr, func(l string) bool { return strings.HasPrefix(l, "nanogate ") })
	args := strings.Fields(line) // "nanogate <id>", as xargs -n 2 passes them
	// answer_by_id.py waits for its connection to the gateway, but the
	// gateway's subscription may still be in flight and its PUB then drops
	// the answer, so it runs again until the client has its answer.
	for {
		sr := startHandler(t, dir, "answer_by_id.py", "responding from another process", args[0], args[1])
		select {
		case <-sr.done:
		case <-time.After(10 * time.Second):
			t.Fatal("answer_by_id.py did not exit")
		}
		select {
		case r := <-done:
			if r.err != nil || r.status != 200 || string(r.body) != "responding from another process\n" {
				t.Fatalf("%d %q %v", r.status, r.body, r.err)
			}
			return
		case <-time.After(time.Second):
		}
	}
}

// streaming_handler.py answers with more: true, then a body packet: the
// client gets a chunked response.
func TestZHTTPStreamedResponse(t *testing.T) {
	dir, base := zhttpDir(t)
	g := startGateway(t, "--zclient-stream", base, "--timeout", "3s")
	startHandler(t, dir, "streaming_handler.py")
	resp, body := getUntil(t, g.url+"/")
	if string(body) != "hello world\n" || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("%v %q", resp.TransferEncoding, body)
	}
}

// A 6 MiB answer from a handler that sends only within its credits: the
// gateway grants credit as the client reads, and the body arrives whole.
func TestZHTTPCredits(t *testing.T) {
	dir, base := zhttpDir(t)
	g := startGateway(t, "--config", zhttpConfig(t, base, ""))
	h := startHandler(t, dir, "credit_handler.py", "6291456")
	h.waitFrom(t, 0, "ready", startTimeout, func(l string) bool { return l == "ready" })
	resp, body := get(t, newClient(t), g.url+"/big")
	if resp.StatusCode != 200 || len(body) != 6<<20 {
		t.Fatalf("%d, %d bytes", resp.StatusCode, len(body))
	}
	for i, b := range body {
		if b != byte(i%251) {
			t.Fatalf("byte %d is %d", i, b)
		}
	}
	// 6 MiB over a 1 MiB window takes credit packets.
	line := h.waitFrom(t, 0, "its summary", 5*time.Second, func(l string) bool { return strings.HasPrefix(l, "sent ") })
	var sent, grants int
	fmt.Sscanf(line, "sent %d grants %d", &sent, &grants)
	if sent != 6<<20 || grants < 5 {
		t.Fatalf("handler: %q", line)
	}
}

// A 3 MiB upload to a handler that grants 64 KiB of credit at a time:
// the gateway sends the body only within the credits, in sequence, and
// the handler gets it whole.
func TestZHTTPUploadWithinCredits(t *testing.T) {
	dir, base := zhttpDir(t)
	g := startGateway(t, "--config", zhttpConfig(t, base, ""))
	h := startHandler(t, dir, "upload_handler.py", "65536")
	h.waitFrom(t, 0, "ready", startTimeout, func(l string) bool { return l == "ready" })
	data := binaryBody(3<<20, 7)
	resp, body := do(t, newClient(t), mustRequest(t, "POST", g.url+"/up", data))
	sum := sha256.Sum256(data)
	if want := fmt.Sprintf("%d %x within-credits\n", len(data), sum); resp.StatusCode != 200 || string(body) != want {
		t.Fatalf("%d %q, want %q", resp.StatusCode, body, want)
	}
	if i, line, _ := h.out.find(0, func(l string) bool { return strings.HasPrefix(l, "bad seq") }); i >= 0 {
		t.Fatalf("handler: %s", line)
	}
}

// A client that leaves mid-response: the handler gets cancel.
// wait_cancel_handler.py holds every response open until its cancel and
// prints what it receives.
func TestZHTTPClientGoneCancel(t *testing.T) {
	dir, base := zhttpDir(t)
	// The front end sees a client gone when a write to it fails: here the
	// event wait_cancel_handler.py writes for each keep-alive.
	g := startGateway(t, "--config", zhttpConfig(t, base, "zhttp_keep_alive = \"500ms\"\nzhttp_session_timeout = \"30s\"\n"))
	h := startHandler(t, dir, "wait_cancel_handler.py")
	var conn net.Conn
	for deadline := time.Now().Add(20 * time.Second); ; {
		var err error
		conn, err = net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil && resp.StatusCode == 200 {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no held response: %v", err)
		}
	}
	conn.Close()
	h.waitFrom(t, 0, "cancel", 10*time.Second, func(l string) bool {
		return strings.HasPrefix(l, "IN ") && strings.Contains(l, "b'type': b'cancel'")
	})
}

// A handler killed after it took a request and before it answered: the
// client gets 502 once the handler's session timeout passes, never a hang.
func TestZHTTPHandlerKilledBeforeAnswer(t *testing.T) {
	dir, base := zhttpDir(t)
	g := startGateway(t, "--config", zhttpConfig(t, base, "timeout = \"30s\"\nzhttp_keep_alive = \"500ms\"\nzhttp_session_timeout = \"2s\"\n"))
	h := startHandler(t, dir, "silent_handler.py")
	_, done := handOver(t, newClient(t), g.url+"/slow", h, func(l string) bool { return strings.HasPrefix(l, "took ") })
	h.kill()
	start := time.Now()
	select {
	case r := <-done:
		if r.status != http.StatusBadGateway {
			t.Fatalf("status %d %v", r.status, r.err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("502 after %v", el)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client hangs")
	}
}

// A handler killed mid-response: the client's chunked body is cut (no
// closing chunk), seen at the next keep-alive that finds the handler gone.
func TestZHTTPHandlerKilledMidResponse(t *testing.T) {
	dir, base := zhttpDir(t)
	g := startGateway(t, "--config", zhttpConfig(t, base, "stream_idle_timeout = \"60s\"\nzhttp_keep_alive = \"500ms\"\nzhttp_session_timeout = \"30s\"\n"))
	h := startHandler(t, dir, "wait_cancel_handler.py")
	var br *bufio.Reader
	for deadline := time.Now().Add(20 * time.Second); ; {
		conn, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		br = bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err == nil && resp.StatusCode == 200 {
			conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no held response: %v", err)
		}
	}
	// wait_cancel_handler.py answers each keep-alive with an event: the
	// stream lives.
	h.waitFrom(t, 0, "a keep-alive", 10*time.Second, func(l string) bool {
		return strings.HasPrefix(l, "IN ") && strings.Contains(l, "b'type': b'keep-alive'")
	})
	h.kill()
	start := time.Now()
	rest, err := io.ReadAll(br)
	if err == nil && bytes.HasSuffix(rest, []byte("0\r\n\r\n")) {
		t.Fatalf("a clean end after the handler died: %q", rest)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the client hangs: %q", rest)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("cut after %v", el)
	}
}

// Bad input from handlers: garbage, a packet that is not a tnetstring, a
// packet for an id that is not live, a packet out of sequence. Each is
// dropped and counted; none reaches another request; the gateway serves on.
func TestZHTTPBadPackets(t *testing.T) {
	dir, base := zhttpDir(t)
	g := startGateway(t, "--config", zhttpConfig(t, base, "timeout = \"10s\"\n"))
	h := startHandler(t, dir, "silent_handler.py")
	c := newClient(t)
	take := func(path string) (string, <-chan answer) {
		line, done := handOver(t, c, g.url+path, h, func(l string) bool { return strings.HasPrefix(l, "took ") })
		return strings.TrimPrefix(line, "took "), done
	}
	pkt := func(id string, seq int64, code int, body string) string {
		return string(zhttp.Append(nil, &zhttp.Packet{From: []byte("bad"), IDs: []zhttp.ID{{ID: []byte(id), Seq: seq}},
			Code: code, Reason: []byte("OK"), Body: []byte(body)}))
	}
	idA, doneA := take("/a")
	sid, _, _ := strings.Cut(idA, "-")
	idB, doneB := take("/b")
	bad := startHandler(t, dir, "bad_handler.py",
		"raw:garbage", "raw:other-gateway T3:2:id,1:1,}", "not a packet", "T12:1:a,",
		pkt(sid+"-99", 0, 200, "EVIL"), // an id that is not live: the session's request 99
		pkt("0123456789abcdef0123456789abcdef-1", 0, 200, "EVIL"),
		pkt(idB, 7, 200, "skipped"), // out of sequence: B ends
		pkt(idA, 0, 200, "legit"),
	)
	bad.waitFrom(t, 0, "sent", 10*time.Second, func(l string) bool { return l == "sent" })
	if r := <-doneA; r.status != 200 || string(r.body) != "legit" {
		t.Fatalf("A: %d %q %v", r.status, r.body, r.err)
	}
	if r := <-doneB; r.status != http.StatusBadGateway {
		t.Fatalf("B after a packet out of sequence: %d %v", r.status, r.err)
	}
	g.waitFrom(t, 0, "the drop report", 5*time.Second, func(l string) bool {
		return strings.Contains(l, `msg="zhttp packets dropped"`)
	})
	// The gateway serves on.
	h.kill()
	startHandler(t, dir, "hello_handler.py")
	if _, body := getUntil(t, g.url+"/after"); string(body) != "hello world\n" {
		t.Fatalf("after: %q", body)
	}
}

// WebSocket: streaming_handler.py accepts a ws:// request with 101, sends
// "hello world" and closes.
func TestZHTTPWebSocketAccept(t *testing.T) {
	dir, base := zhttpDir(t)
	g := startGateway(t, "--zclient-stream", base)
	h := startHandler(t, dir, "streaming_handler.py")
	for attempt := 0; ; attempt++ {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(time.Now().Add(2 * time.Second))
		mt, msg, err := ws.ReadMessage()
		if err != nil {
			// No handler yet (close 1011), or its answer left before it
			// had the gateway's subscription: again.
			ws.Close()
			if attempt > 50 {
				t.Fatalf("no message: %v", err)
			}
			continue
		}
		if mt != websocket.TextMessage || string(msg) != "hello world" {
			t.Fatalf("%d %q", mt, msg)
		}
		_, _, err = ws.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
			t.Fatalf("after the message: %v", err)
		}
		ws.Close()
		break
	}
	h.waitFrom(t, 0, "the ws:// request", 5*time.Second, func(l string) bool {
		return strings.HasPrefix(l, "IN ") && strings.Contains(l, "b'uri': b'ws://"+g.addr+"/ws'")
	})
}

// WebSocket both ways through a ZHTTP echo handler: text, a binary message
// larger than the handler's credits (sent in pieces with more, put back
// together on the way back), and the client's close code reaching the
// handler and coming back.
func TestZHTTPWebSocketEcho(t *testing.T) {
	dir, base := zhttpDir(t)
	g := startGateway(t, "--config", zhttpConfig(t, base, "websocket = true\n"))
	h := startHandler(t, dir, "ws_echo_handler.py")
	h.waitFrom(t, 0, "ready", startTimeout, func(l string) bool { return l == "ready" })
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	big := binaryBody(100<<10, 3)
	for _, m := range []struct {
		t    int
		data []byte
	}{{websocket.TextMessage, []byte("hello")}, {websocket.BinaryMessage, big}, {websocket.TextMessage, []byte("")}} {
		if err := ws.WriteMessage(m.t, m.data); err != nil {
			t.Fatal(err)
		}
		mt, got, err := ws.ReadMessage()
		if err != nil || mt != m.t || !bytes.Equal(got, m.data) {
			t.Fatalf("echo of %d bytes: type %d, %d bytes, %v", len(m.data), mt, len(got), err)
		}
	}
	ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"))
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4000 {
		t.Fatalf("close: %v", err)
	}
	h.waitFrom(t, 0, "the close", 5*time.Second, func(l string) bool { return l == "close 4000" })
}

// Floods: a handler that ignores its credits and sends 64 MiB to a client
// that reads nothing gets its stream cut and a cancel, and the gateway
// holds about the window, not the flood; 100000 messages of garbage and
// 20000 packets for an unknown id cost one log line and no memory.
func TestZHTTPFloods(t *testing.T) {
	dir, base := zhttpDir(t)
	g := startGateway(t, "--config", zhttpConfig(t, base, "timeout = \"10s\"\n"))
	h := startHandler(t, dir, "flood_handler.py", strconv.Itoa(64<<20))
	h.waitFrom(t, 0, "ready", startTimeout, func(l string) bool { return l == "ready" })
	conn, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	h.waitFrom(t, 0, "cancel", 30*time.Second, func(l string) bool { return l == "cancelled" })
	if rss := rssMiB(t, g.cmd.Process.Pid); rss > 150 {
		t.Fatalf("gateway RSS %.0f MiB after a 64 MiB flood", rss)
	} else {
		t.Logf("gateway RSS %.0f MiB after a 64 MiB flood", rss)
	}
	g.waitFrom(t, 0, "the overflow", 5*time.Second, func(l string) bool {
		return strings.Contains(l, "overflow=1") || strings.Contains(l, "client too slow") || strings.Contains(l, "stream cut")
	})

	mark := g.out.len()
	bad := startHandler(t, dir, "bad_handler.py", "flood:100000:raw:nanogate garbage",
		"flood:20000:"+string(zhttp.Append(nil, &zhttp.Packet{IDs: []zhttp.ID{{ID: []byte("0123456789abcdef0123456789abcdef-1"), Seq: 0}}, Code: 200, Body: bytes.Repeat([]byte("x"), 1000)})))
	bad.waitFrom(t, 0, "sent", 60*time.Second, func(l string) bool { return l == "sent" })
	startHandler(t, dir, "hello_handler.py")
	if _, body := getUntil(t, g.url+"/after"); string(body) != "hello world\n" {
		t.Fatalf("after: %q", body)
	}
	if rss := rssMiB(t, g.cmd.Process.Pid); rss > 150 {
		t.Fatalf("gateway RSS %.0f MiB after the garbage", rss)
	} else {
		t.Logf("gateway RSS %.0f MiB after the garbage", rss)
	}
	n := 0
	for i := mark; ; i++ {
		if i, _, _ = g.out.find(i, func(l string) bool { return strings.Contains(l, `msg="zhttp packets dropped"`) }); i < 0 {
			break
		}
		n++
	}
	if n > 2 {
		t.Fatalf("%d drop reports for one flood", n)
	}
}

// Condure's first use case: a request's ownership passes from the process
// that took it to one that never saw it (handoff-start, handoff-proceed,
// then the new process resumes from its own address), and the client gets
// one whole response.
func TestZHTTPHandoff(t *testing.T) {
	dir, base := zhttpDir(t)
	g := startGateway(t, "--config", zhttpConfig(t, base, "zhttp_keep_alive = \"500ms\"\n"))
	a := startHandler(t, dir, "handoff_handler.py", "start")
	a.waitFrom(t, 0, "ready", startTimeout, func(l string) bool { return l == "ready" })
	got := getAsync(newClient(t), g.url+"/handoff")
	line := a.waitFrom(t, 0, "the handoff", 10*time.Second, func(l string) bool { return strings.HasPrefix(l, "handoff ") })
	<-a.done // the first owner has exited
	b := startHandler(t, dir, "handoff_handler.py", append([]string{"resume"}, strings.Fields(line)[1:]...)...)
	seqLine := b.waitFrom(t, 0, "the gateway's next packet", 10*time.Second, func(l string) bool { return strings.HasPrefix(l, "got ") })
	if f := strings.Fields(seqLine); len(f) != 6 || f[1] != "keep-alive" || f[3] != f[5] {
		t.Fatalf("the new owner got %q", seqLine)
	}
	r := <-got
	want := "first part from the process that took the request\nsecond part from a process that never saw it\nend\n"
	if r.status != 200 || string(r.body) != want {
		t.Fatalf("%d %q %v", r.status, r.body, r.err)
	}
}

// REQ mode: rep_handler.py (a REP socket, as REQ-mode handlers use)
// behind --zclient-req.
func TestZHTTPReqMode(t *testing.T) {
	dir, _ := zhttpDir(t)
	// Condure's REQ-mode command line: the mode is the --listen suffix.
	g := startGateway(t, "--listen", "127.0.0.1:0,req", "--zclient-req", "ipc://"+filepath.Join(dir, "client"), "--timeout", "3s")
	h := startHandler(t, dir, "rep_handler.py")
	resp, body := getUntil(t, g.url+"/req")
	if string(body) != "hello world\n" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("%v %q", resp.Header, body)
	}
	c := newClient(t)
	resp, body = do(t, c, mustRequest(t, "POST", g.url+"/req", []byte("payload")))
	if resp.StatusCode != 200 || string(body) != "hello world\n" {
		t.Fatalf("POST %d %q", resp.StatusCode, body)
	}
	h.waitFrom(t, 0, "the POST", 5*time.Second, func(l string) bool {
		return strings.HasPrefix(l, "IN ") && strings.Contains(l, "b'body': b'payload'")
	})
}

// Condure's flags become one route: the mode from the --listen suffix or
// the socket flag given, the address defaulting to Condure's ipc://client.
func TestZHTTPFlags(t *testing.T) {
	for _, c := range []struct {
		args        []string
		addr        string
		stream, req string
		noRoute, ws bool
	}{
		{args: []string{"--listen", "8000", "--zclient-stream", "ipc://x"}, addr: ":8000", stream: "ipc://x", ws: true},
		{args: []string{"--listen", "8000,req"}, addr: ":8000", req: "ipc://client"},
		{args: []string{"--listen", "127.0.0.1:8000,stream"}, addr: "127.0.0.1:8000", stream: "ipc://client", ws: true},
		{args: []string{"--listen", "8000,req", "--zclient-stream", "ipc://s", "--zclient-req", "tcp://127.0.0.1:5000"}, addr: ":8000", req: "tcp://127.0.0.1:5000"},
		{args: []string{"--zclient-req", "ipc://r"}, req: "ipc://r"},
		{args: []string{"--listen", "127.0.0.1:8080"}, addr: "127.0.0.1:8080", noRoute: true},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		listen := fs.String("listen", "", "")
		z := addZClientFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		addr, _ := condureListen(*listen)
		routes := z.routes(*listen)
		if addr != c.addr || c.noRoute != (len(routes) == 0) {
			t.Errorf("%v: listen %q, %d routes", c.args, addr, len(routes))
			continue
		}
		if c.noRoute {
			continue
		}
		r := routes[0]
		if r.ZHTTP.Stream != c.stream || r.ZHTTP.Req != c.req || r.WebSocket != c.ws || r.Path != "/" {
			t.Errorf("%v: %+v", c.args, r)
		}
	}
}
