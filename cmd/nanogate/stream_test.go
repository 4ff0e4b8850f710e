package main

// End-to-end tests of format frames against the real gateway process: a
// scripted worker (this test's own PULL and PUSH sockets, so that each
// frame is sent exactly when the test says) drives streamed responses,
// WebSocket and pushes, and the client side is a raw TCP connection, Go's
// HTTP client or a WebSocket client.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/nanogate/nanogate/internal/sp"
	"github.com/nanogate/nanogate/protocol/frames"
)

// scripted is a frames worker whose every frame the test sends by hand.
type scripted struct {
	t    testing.TB
	in   chan frames.Frame // what the gateway sent, bodies copied
	pull *sp.Pull
	out  *sp.Push
}

// startScripted binds a PULL at endpoint and pushes to inbound.
func startScripted(t testing.TB, endpoint, inbound string) *scripted {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	w := &scripted{t: t, in: make(chan frames.Frame, 1024)}
	pull, err := sp.NewPull(sp.LinkConfig{URL: endpoint, Listen: true, Logger: quiet}, sp.Borrowing(func(msg []byte) {
		f, err := frames.Parse(msg)
		if err != nil {
			t.Errorf("gateway sent a malformed frame %q: %v", msg, err)
			return
		}
		f.Body = bytes.Clone(f.Body)
		w.in <- f
	}))
	if err != nil {
		t.Fatal(err)
	}
	w.pull = pull
	if w.out, err = sp.NewPush(sp.LinkConfig{URL: inbound, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.out.Close(); w.pull.Close() })
	return w
}

// next returns the next frame from the gateway, skipping credit frames
// unless the test asks for them.
func (w *scripted) next(t testing.TB, wantType frames.Type) frames.Frame {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f := <-w.in:
			if f.Type == frames.Credit && wantType != frames.Credit {
				continue
			}
			if f.Type != wantType {
				t.Fatalf("gateway sent %s %q (%d bytes), want %s", f.Type, f.Body[:min(len(f.Body), 80)], len(f.Body), wantType)
			}
			return f
		case <-timeout:
			t.Fatalf("no %s frame from the gateway within 10s", wantType)
		}
	}
}

func (w *scripted) send(t testing.TB, f frames.Frame, typ frames.Type, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	peer, err := w.out.Wait(ctx)
	if err != nil {
		t.Fatalf("no connection to the gateway's inbound: %v", err)
	}
	if err := peer.Send(nil, frames.Append(nil, f.SID, typ, f.Stream, []byte(body))); err != nil {
		t.Fatal(err)
	}
}

// framesStack starts a gateway with one frames route (WebSocket on) and a
// scripted worker on it.
func framesStack(t *testing.T, extra string) (*gateway, *scripted, string) {
	t.Helper()
	dir := shortDir(t)
	ep, inbound := "ipc://"+filepath.Join(dir, "w.sock"), "ipc://"+filepath.Join(dir, "in.sock")
	cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(`
[sessions]
inbound = %q
[[route]]
path = "/"
format = "frames"
websocket = true
timeout = "2s"
stream_idle_timeout = "3s"
max_message_bytes = 1000
endpoints = [%q]
%s`, inbound, ep, extra))
	w := startScripted(t, ep, inbound)
	g := startGateway(t, "--config", cfg)
	g.waitConnected(t, 0, ep)
	return g, w, inbound
}

// rawGet sends a GET on a new connection and returns a reader on it.
func rawGet(t *testing.T, g *gateway, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path)
	return c, bufio.NewReader(c)
}

func TestFramesStream(t *testing.T) {
	t.Parallel()
	runFramesStream(t, "")
}

// runFramesStream is TestFramesStream with extra config (framesStack).
func runFramesStream(t *testing.T, extra string) {
	g, w, _ := framesStack(t, extra)

	t.Run("chunks-arrive-as-sent", func(t *testing.T) {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A client's own X-Nanogate-Inbound must not reach the worker:
		// it would send the session's replies where the client says.
		fmt.Fprintf(c, "GET /sse HTTP/1.1\r\nHost: t\r\nx-nanogate-inbound: tcp://evil:1\r\n\r\n")
		br := bufio.NewReader(c)
		req := w.next(t, frames.Request)
		head := string(req.Body)
		if strings.Contains(head, "evil") || strings.Count(head, "X-Nanogate-Inbound") != 1 {
			t.Fatalf("the client's inbound header reached the worker: %q", head)
		}
		if !strings.HasPrefix(head, "GET /sse HTTP/1.1\r\n") || !strings.Contains(head, "X-Nanogate-Inbound: ipc://") ||
			!strings.Contains(head, "X-Nanogate-Session: "+hex.EncodeToString(req.SID[:])) || req.Stream != 1 {
			t.Fatalf("request frame: stream %d %q", req.Stream, head)
		}
		w.send(t, req, frames.Headers, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.TransferEncoding[0] != "chunked" || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("head: %d %v %v", resp.StatusCode, resp.TransferEncoding, resp.Header)
		}
		// Each event reaches the client before the worker sends the next.
		for i := range 3 {
			ev := fmt.Sprintf("data: %d\n\n", i)
			w.send(t, req, frames.Chunk, ev)
			got := make([]byte, len(ev))
			if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != ev {
				t.Fatalf("event %d: %q, %v", i, got, err)
			}
		}
		w.send(t, req, frames.Chunk, "") // BlastBeat's end
		if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
			t.Fatalf("after the end: %q, %v", rest, err)
		}
	})

	t.Run("http10-no-chunked", func(t *testing.T) {
		// An HTTP/1.0 client cannot read chunked coding: the stream comes
		// as it is, ended by the connection's close.
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprintf(c, "GET /old HTTP/1.0\r\nHost: t\r\n\r\n")
		req := w.next(t, frames.Request)
		w.send(t, req, frames.Headers, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst ")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET", Proto: "HTTP/1.0", ProtoMajor: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.TransferEncoding) != 0 || resp.ContentLength != -1 || !resp.Close {
			t.Fatalf("head: transfer-encoding %v, length %d, close %v", resp.TransferEncoding, resp.ContentLength, resp.Close)
		}
		got := make([]byte, len("first "))
		if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != "first " {
			t.Fatalf("first piece %q, %v", got, err)
		}
		for _, piece := range []string{strings.Repeat("x", 70000), "last"} {
			w.send(t, req, frames.Chunk, piece)
		}
		w.send(t, req, frames.End, "")
		rest, err := io.ReadAll(resp.Body)
		if err != nil || string(rest) != strings.Repeat("x", 70000)+"last" {
			t.Fatalf("rest: %d bytes, %v", len(rest), err)
		}
	})

	t.Run("content-length-and-keep-alive", func(t *testing.T) {
		c, br := rawGet(t, g, "/a")
		req := w.next(t, frames.Request)
		w.send(t, req, frames.Headers, "HTTP/1.1 201 Created\r\nContent-Length: 10\r\nX-A: 1\r\n\r\nhello")
		w.send(t, req, frames.Body, "world")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 201 || string(body) != "helloworld" || resp.ContentLength != 10 || resp.Header.Get("X-A") != "1" {
			t.Fatalf("%d %q %d %v", resp.StatusCode, body, resp.ContentLength, resp.Header)
		}
		// The same connection takes a second request: stream 2, same session.
		fmt.Fprintf(c, "GET /b HTTP/1.1\r\nHost: t\r\n\r\n")
		req2 := w.next(t, frames.Request)
		if req2.SID != req.SID || req2.Stream != 2 {
			t.Fatalf("second request: session %x stream %d, want %x 2", req2.SID, req2.Stream, req.SID)
		}
		// A late frame for stream 1 must not reach stream 2's client.
		w.send(t, req, frames.Body, "stale")
		w.send(t, req2, frames.Headers, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if body, _ := io.ReadAll(resp.Body); string(body) != "ok" {
			t.Fatalf("second body %q", body)
		}
	})

	t.Run("upload-in-body-frames", func(t *testing.T) {
		payload := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160 000 bytes: three frames
		go http.Post(g.url+"/up", "application/octet-stream", bytes.NewReader(payload))
		req := w.next(t, frames.Request)
		if !strings.Contains(string(req.Body), "Content-Length: 160000\r\n") {
			t.Fatalf("head %q", req.Body)
		}
		var got []byte
		for {
			f := w.next(t, frames.Body)
			if len(f.Body) == 0 {
				break
			}
			if len(f.Body) > 256<<10 {
				t.Fatalf("body frame of %d bytes", len(f.Body))
			}
			got = append(got, f.Body...)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("body: %d bytes, want %d", len(got), len(payload))
		}
		w.send(t, req, frames.Headers, "HTTP/1.1 204 No Content\r\n\r\n")
	})

	t.Run("no-head-504", func(t *testing.T) {
		resp, err := http.Get(g.url + "/slow")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		w.next(t, frames.Request)
		if resp.StatusCode != 504 {
			t.Fatalf("status %d, want 504", resp.StatusCode)
		}
		w.next(t, frames.End) // the worker is told to forget it
	})

	t.Run("client-gone-end", func(t *testing.T) {
		c, br := rawGet(t, g, "/gone")
		req := w.next(t, frames.Request)
		w.send(t, req, frames.Headers, "HTTP/1.1 200 OK\r\n\r\n")
		w.send(t, req, frames.Chunk, "first")
		if _, err := http.ReadResponse(br, nil); err != nil {
			t.Fatal(err)
		}
		c.Close()
		// Writes to a closed socket fail within a frame or two.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			w.send(t, req, frames.Chunk, "more")
			select {
			case f := <-w.in:
				if f.Type == frames.End && f.Stream == req.Stream {
					return
				}
			case <-time.After(50 * time.Millisecond):
			}
		}
		t.Fatal("the worker was not told that the client left")
	})

	t.Run("short-content-length-is-cut", func(t *testing.T) {
		_, br := rawGet(t, g, "/short")
		req := w.next(t, frames.Request)
		w.send(t, req, frames.Headers, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
		w.send(t, req, frames.End, "")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err == nil || len(body) >= 100 {
			t.Fatalf("a short body read as whole: %q, %v", body, err)
		}
	})
}

// TestFramesWorkerLost: a worker that dies mid-stream cuts the client's
// chunked body (no closing chunk), and a WebSocket gets close 1011.
func TestFramesWorkerLost(t *testing.T) {
	t.Parallel()
	g, w, _ := framesStack(t, "")
	_, br := rawGet(t, g, "/stream")
	req := w.next(t, frames.Request)
	w.send(t, req, frames.Headers, "HTTP/1.1 200 OK\r\n\r\n")
	w.send(t, req, frames.Chunk, "part")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	w.next(t, frames.Request)

	w.pull.Close() // the worker's process is gone
	if rest, err := io.ReadAll(resp.Body); err == nil {
		t.Fatalf("a cut stream read as complete (%q after the first part)", rest)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err = ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseInternalServerErr) {
		t.Fatalf("websocket after the worker died: %v, want close 1011", err)
	}
}

func TestFramesWebSocket(t *testing.T) {
	t.Parallel()
	runFramesWebSocket(t, "")
}

// runFramesWebSocket is TestFramesWebSocket with extra config (framesStack).
func runFramesWebSocket(t *testing.T, extra string) {
	g, w, inbound := framesStack(t, extra)
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	sid := resp.Header.Get("X-Nanogate-Session")
	req := w.next(t, frames.Request)
	if !strings.Contains(string(req.Body), "Upgrade: websocket") {
		t.Fatalf("request %q", req.Body)
	}
	if sid != "" && sid != hex.EncodeToString(req.SID[:]) {
		t.Fatalf("session header %q vs %x", sid, req.SID)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))

	// Client to worker, both types.
	ws.WriteMessage(websocket.TextMessage, []byte("hi"))
	ws.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2})
	if f := w.next(t, frames.WSText); string(f.Body) != "hi" {
		t.Fatalf("text %q", f.Body)
	}
	if f := w.next(t, frames.WSBinary); !bytes.Equal(f.Body, []byte{0, 1, 2}) {
		t.Fatalf("binary %q", f.Body)
	}
	// Worker to client.
	w.send(t, req, frames.WSBinary, "\xff\x00")
	if mt, msg, err := ws.ReadMessage(); err != nil || mt != websocket.BinaryMessage || string(msg) != "\xff\x00" {
		t.Fatalf("from the worker: %d %q %v", mt, msg, err)
	}
	// Any process, by session id: the push command, stream 0.
	session := hex.EncodeToString(req.SID[:])
	var out, errb bytes.Buffer
	if code := run([]string{"push", "--inbound", inbound, "--session", session, "--text", "pushed"}, &out, &errb); code != 0 {
		t.Fatalf("push: %d %s", code, errb.String())
	}
	if mt, msg, err := ws.ReadMessage(); err != nil || mt != websocket.TextMessage || string(msg) != "pushed" {
		t.Fatalf("pushed: %d %q %v", mt, msg, err)
	}
	// An unknown session is a counted drop, not a failure.
	if code := run([]string{"push", "--inbound", inbound, "--session", strings.Repeat("0", 32), "--text", "x"}, &out, &errb); code != 0 {
		t.Fatalf("push to an unknown session: %d %s", code, errb.String())
	}
	g.waitFrom(t, 0, "dropped frames logged", 10*time.Second, func(l string) bool {
		return strings.Contains(l, `msg="dropped session frames"`) && hasField(l, "unknown_session", "1")
	})
	// Over max_message_bytes: close 1009, and the worker is told.
	ws.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), 1001))
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("oversized message: %v, want close 1009", err)
	}
	w.next(t, frames.End)
}

func TestFramesWebSocketClose(t *testing.T) {
	t.Parallel()
	g, w, inbound := framesStack(t, "")
	dial := func() (*websocket.Conn, frames.Frame) {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		return ws, w.next(t, frames.Request)
	}
	// The client closes with a code: the worker gets it, then end.
	ws, req := dial()
	ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"))
	if f := w.next(t, frames.WSClose); string(f.Body) != "4001 bye" || f.Stream != req.Stream {
		t.Fatalf("close frame %q", f.Body)
	}
	w.next(t, frames.End)

	// The worker closes with a code.
	ws, req = dial()
	w.send(t, req, frames.WSClose, "4002 kicked")
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, 4002) || !strings.Contains(err.Error(), "kicked") {
		t.Fatalf("worker close: %v", err)
	}

	// A push closes it by session id.
	ws, req = dial()
	var out, errb bytes.Buffer
	if code := run([]string{"push", "--inbound", inbound, "--session", hex.EncodeToString(req.SID[:]), "--close", "--code", "4003"}, &out, &errb); code != 0 {
		t.Fatalf("push --close: %s", errb.String())
	}
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, 4003) {
		t.Fatalf("pushed close: %v", err)
	}

	// A foreign Origin is refused before the handshake.
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/ws", http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v", resp, err)
	}
	// Its own origin is fine.
	ws2, _, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/ws", http.Header{"Origin": {"http://" + g.addr}})
	if err != nil {
		t.Fatal(err)
	}
	ws2.Close()
	w.next(t, frames.Request)
}

// TestFramesNoWorker: a frames route with no worker answers 503 at once,
// for a request and for a WebSocket handshake.
func TestFramesNoWorker(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(`
[sessions]
inbound = "ipc://%s/in.sock"
[[route]]
format = "frames"
websocket = true
endpoints = ["ipc://%s/none.sock"]
`, dir, dir))
	g := startGateway(t, "--config", cfg)
	resp, err := http.Get(g.url + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	_, resp, err = websocket.DefaultDialer.Dial("ws://"+g.addr+"/ws", nil)
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("websocket with no worker: %v %v", resp, err)
	}
}

// TestFramesBodies: with a frames route the server streams request bodies
// (StreamRequestBody), and max_body_bytes still answers 413, for frames and
// for http routes; a chunked upload reaches the worker de-chunked.
func TestFramesBodies(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	g, w, _ := framesStack(t, fmt.Sprintf(`
[[route]]
path = "/h/"
endpoints = ["ipc://%s/nobody.sock"]
[server]
max_body_bytes = 100000
`, dir))
	post := func(path string, body io.Reader, size int64) int {
		req, _ := http.NewRequest("POST", g.url+path, body)
		req.ContentLength = size
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	big := bytes.Repeat([]byte("x"), 150000)

	t.Run("chunked-upload", func(t *testing.T) {
		payload := bytes.Repeat([]byte("0123456789"), 5000)
		done := make(chan int, 1)
		go func() { done <- post("/up", io.MultiReader(bytes.NewReader(payload)), -1) }()
		req := w.next(t, frames.Request)
		if !strings.Contains(string(req.Body), "Transfer-Encoding: chunked\r\n") || strings.Contains(string(req.Body), "Content-Length") {
			t.Fatalf("head %q", req.Body)
		}
		var got []byte
		for f := w.next(t, frames.Body); len(f.Body) > 0; f = w.next(t, frames.Body) {
			got = append(got, f.Body...)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("body: %d bytes, want %d", len(got), len(payload))
		}
		w.send(t, req, frames.Headers, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		if code := <-done; code != 200 {
			t.Fatalf("status %d", code)
		}
	})
	t.Run("piece-before-the-rest", func(t *testing.T) {
		// A client that streams its body (a chunked POST of events): each
		// piece reaches the worker while the client waits to send the
		// next, not once 256 KiB have gathered.
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		req := w.next(t, frames.Request)
		if f := w.next(t, frames.Body); string(f.Body) != "hello" {
			t.Fatalf("first body frame %q, want hello", f.Body)
		}
		fmt.Fprintf(c, "6\r\n world\r\n0\r\n\r\n")
		if f := w.next(t, frames.Body); string(f.Body) != " world" {
			t.Fatalf("second body frame %q, want \" world\"", f.Body)
		}
		if f := w.next(t, frames.Body); len(f.Body) != 0 {
			t.Fatalf("body frame %q, want the empty one that ends the body", f.Body)
		}
		w.send(t, req, frames.Headers, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("response %v, %v", resp, err)
		}
	})
	t.Run("frames-length-over-limit", func(t *testing.T) {
		if code := post("/up", bytes.NewReader(big), int64(len(big))); code != 413 {
			t.Fatalf("status %d, want 413", code)
		}
	})
	t.Run("frames-chunked-over-limit", func(t *testing.T) {
		done := make(chan int, 1)
		go func() { done <- post("/up", io.MultiReader(bytes.NewReader(big)), -1) }()
		w.next(t, frames.Request)
		// Body frames up to the limit, then end: never the empty body
		// frame that would say the upload is complete.
		timeout := time.After(10 * time.Second)
		for ended := false; !ended; {
			select {
			case f := <-w.in:
				switch {
				case f.Type == frames.End:
					ended = true
				case f.Type == frames.Body && len(f.Body) == 0:
					t.Fatal("an upload over the limit was ended as complete")
				case f.Type != frames.Body:
					t.Fatalf("unexpected %s frame", f.Type)
				}
			case <-timeout:
				t.Fatal("no end frame after the limit")
			}
		}
		if code := <-done; code != 413 {
			t.Fatalf("status %d, want 413", code)
		}
	})
	t.Run("http-length-over-limit", func(t *testing.T) {
		if code := post("/h/x", bytes.NewReader(big), int64(len(big))); code != 413 {
			t.Fatalf("status %d, want 413", code)
		}
	})
	t.Run("http-chunked-over-limit", func(t *testing.T) {
		if code := post("/h/x", io.MultiReader(bytes.NewReader(big)), -1); code != 413 {
			t.Fatalf("status %d, want 413", code)
		}
	})
	t.Run("http-under-limit", func(t *testing.T) {
		// Read whole and sent on: no worker there, so 503.
		if code := post("/h/x", bytes.NewReader(big[:1000]), 1000); code != 503 {
			t.Fatalf("status %d, want 503", code)
		}
	})
}

// TestCStreamWorker: the libnanomsg example worker (backend-sdk/c/
// stream_worker.c, no nanogate code) streams through the real gateway to
// curl: chunks arrive one by one, an upload is counted, a WebSocket echoes.
func TestCStreamWorker(t *testing.T) {
	t.Parallel()
	bin := buildC(t, "stream_worker")
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatalf("curl not installed (run make deps): %v", err)
	}
	dir := shortDir(t)
	ep, inbound := "ipc://"+filepath.Join(dir, "c.sock"), "ipc://"+filepath.Join(dir, "in.sock")
	cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(`
[sessions]
inbound = %q
[[route]]
format = "frames"
websocket = true
endpoints = [%q]
`, inbound, ep))
	startProc(t, "stream_worker", bin, ep)
	g := startGateway(t, "--config", cfg)
	g.waitConnected(t, 0, ep)

	t.Run("curl-no-buffer", func(t *testing.T) {
		cmd := exec.Command(curl, "-sS", "--no-buffer", "--max-time", "10", g.url+"/stream?n=3")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		sc := bufio.NewScanner(out)
		var at []time.Time
		var lines []string
		for sc.Scan() {
			at = append(at, time.Now())
			lines = append(lines, sc.Text())
		}
		if strings.Join(lines, ",") != "chunk 1,chunk 2,chunk 3" {
			t.Fatalf("curl printed %q", lines)
		}
		// The worker spaces its chunks 100 ms apart: they were not
		// gathered into one body.
		if gap := at[2].Sub(at[0]); gap < 150*time.Millisecond {
			t.Fatalf("first and last chunk %v apart: buffered, not streamed", gap)
		}
	})
	t.Run("curl-upload", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "up")
		if err := os.WriteFile(f, bytes.Repeat([]byte{0, 1, 2, 3}, 1<<18), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(curl, "-sS", "--max-time", "10", "--data-binary", "@"+f, g.url+"/upload").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "1048576" {
			t.Fatalf("curl: %v %q", err, out)
		}
	})
	t.Run("websocket-echo", func(t *testing.T) {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		ws.WriteMessage(websocket.BinaryMessage, []byte{9, 0, 9})
		if mt, msg, err := ws.ReadMessage(); err != nil || mt != websocket.BinaryMessage || !bytes.Equal(msg, []byte{9, 0, 9}) {
			t.Fatalf("echo: %d %v %v", mt, msg, err)
		}
	})
}

// TestFramesSlowReader: a client that stops reading while its worker keeps
// sending (ignoring credit) is cut once the stream's window overflows: its
// connection closes, the worker gets end, and the gateway holds no more
// than the window for it.
func TestFramesSlowReader(t *testing.T) {
	t.Parallel()
	g, w, _ := framesStack(t, "")
	c, br := rawGet(t, g, "/firehose")
	req := w.next(t, frames.Request)
	w.send(t, req, frames.Headers, "HTTP/1.1 200 OK\r\n\r\n")
	if _, err := http.ReadResponse(br, nil); err != nil { // the head; then the client stops reading
		t.Fatal(err)
	}
	piece := strings.Repeat("x", 64<<10)
	deadline := time.Now().Add(20 * time.Second)
	for sent := 0; ; sent++ {
		if time.Now().After(deadline) {
			t.Fatalf("no end after %d pieces of 64 KiB to a client that does not read", sent)
		}
		w.send(t, req, frames.Chunk, piece)
		select {
		case f := <-w.in:
			if f.Type == frames.End && f.Stream == req.Stream {
				// The client's connection is closed: after what the
				// kernel buffered, its reads end.
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.Copy(io.Discard, br); err != nil {
					t.Fatalf("client connection not closed: %v", err)
				}
				return
			}
		default:
		}
	}
}
