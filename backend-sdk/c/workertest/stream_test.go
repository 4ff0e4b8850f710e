package workertest_test

// TestStreamWorker plays the gateway of a route with format = "frames"
// (docs/PROTOCOL.md) against backend-sdk/c/stream_worker.c: an sp.Push
// dials the worker's PULL socket, an sp.Pull is the inbound address that
// each request names in X-Nanogate-Inbound. Every case waits on frames
// received; none sleeps.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nanogate/nanogate/internal/sp"
	"github.com/nanogate/nanogate/protocol/frames"
)

// frameTimeout bounds every wait for a frame; the worker answers in
// milliseconds, and streams take 100 ms per chunk.
const frameTimeout = 10 * time.Second

var quiet = slog.New(slog.DiscardHandler)

func TestStreamWorker(t *testing.T) {
	bin := buildWorker(t, "stream_worker.c")
	dir := socketDir(t)
	g := newInbound(t, "ipc://"+filepath.Join(dir, "in.sock"))
	w := startWorker(t, bin, "ipc://"+filepath.Join(dir, "w.sock"))
	g.connect(t, w)

	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		s := g.open(t, 1)
		s.request(t, "GET /stream?n=3", "")
		checkHead(t, s.expect(t, frames.Headers, nil), 200, "text/plain", -1, "")
		var got []received
		for i := 1; i <= 3; i++ {
			got = append(got, s.expect(t, frames.Chunk, fmt.Appendf(nil, "chunk %d\n", i)))
		}
		s.expect(t, frames.End, []byte{})
		// 100 ms between chunks at the worker: 200 ms from the first to the
		// last unless they were batched.
		if gap := got[2].at.Sub(got[0].at); gap < 150*time.Millisecond {
			t.Errorf("chunk 1 and chunk 3 arrived %v apart, want >= 150ms (streamed, not batched)", gap)
		}
	})

	t.Run("stream-default-n", func(t *testing.T) {
		t.Parallel()
		s := g.open(t, 7)
		s.request(t, "GET /stream", "")
		checkHead(t, s.expect(t, frames.Headers, nil), 200, "text/plain", -1, "")
		for i := 1; i <= 5; i++ {
			s.expect(t, frames.Chunk, fmt.Appendf(nil, "chunk %d\n", i))
		}
		s.expect(t, frames.End, []byte{})
	})

	t.Run("sse", func(t *testing.T) {
		t.Parallel()
		s := g.open(t, 1)
		s.request(t, "GET /sse", "Accept: text/event-stream\r\n")
		checkHead(t, s.expect(t, frames.Headers, nil), 200, "text/event-stream", -1, "")
		for i := 1; i <= 3; i++ {
			s.expect(t, frames.Chunk, fmt.Appendf(nil, "data: tick %d\n\n", i))
		}
		s.expect(t, frames.Chunk, []byte{}) // ends the response (BlastBeat)
	})

	t.Run("upload-1MiB", func(t *testing.T) {
		t.Parallel()
		s := g.open(t, 2)
		const piece, pieces = 64 << 10, 16
		s.request(t, "POST /upload", fmt.Sprintf("Content-Length: %d\r\n", piece*pieces))
		body := make([]byte, piece)
		for i := range body {
			body[i] = byte(i) // NULs, CRs and LFs included: binary safe
		}
		for range pieces {
			s.send(t, frames.Body, body)
		}
		s.send(t, frames.Body, nil)
		checkHead(t, s.expect(t, frames.Headers, nil), 200, "", 7, "1048576")
	})

	t.Run("upload-chunked", func(t *testing.T) {
		t.Parallel()
		s := g.open(t, 3)
		s.request(t, "POST /anything", "Transfer-Encoding: chunked\r\n")
		for _, n := range []int{1, 1000, 65536} {
			s.send(t, frames.Body, bytes.Repeat([]byte{'x'}, n))
		}
		s.send(t, frames.Body, nil)
		checkHead(t, s.expect(t, frames.Headers, nil), 200, "", 5, "66537")
	})

	t.Run("upload-empty", func(t *testing.T) {
		t.Parallel()
		s := g.open(t, 1)
		s.request(t, "POST /upload", "Content-Length: 0\r\n")
		checkHead(t, s.expect(t, frames.Headers, nil), 200, "", 1, "0")
	})

	t.Run("websocket", func(t *testing.T) {
		t.Parallel()
		s := g.open(t, 4)
		s.request(t, "GET /ws", "Upgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
		bin := []byte{0, 1, 2, '\n', 0xff}
		s.send(t, frames.WSText, []byte("hello"))
		s.send(t, frames.WSBinary, bin)
		s.send(t, frames.WSText, nil)
		s.expect(t, frames.WSText, []byte("hello"))
		s.expect(t, frames.WSBinary, bin)
		s.expect(t, frames.WSText, []byte{})

		// After the client's close the stream is forgotten: a late message
		// is not echoed. The worker handles frames in order and replies on
		// one connection, so once the next request's answer is here, an
		// echo would have been too.
		s.send(t, frames.WSClose, frames.AppendClose(nil, 1000, "bye"))
		s.send(t, frames.WSText, []byte("late"))
		next := g.openSID(t, s.sid, 5)
		next.request(t, "GET /after-close", "")
		checkHead(t, next.expect(t, frames.Headers, nil), 404, "text/plain", 10, "not found\n")
		s.expectNothing(t)
	})

	t.Run("end-stops-stream", func(t *testing.T) {
		t.Parallel()
		s := g.open(t, 1)
		s.request(t, "GET /stream?n=100000", "") // capped at 1000: 100 s
		s.expect(t, frames.Headers, nil)
		s.expect(t, frames.Chunk, []byte("chunk 1\n"))
		s.send(t, frames.End, nil) // the client went away

		// The worker reads end before the next request, so nothing of the
		// first stream may follow the next one's headers; had it kept
		// going, a chunk would fall within the next one's 200 ms.
		next := g.openSID(t, s.sid, 2)
		next.request(t, "GET /stream?n=3", "")
		head := next.expect(t, frames.Headers, nil)
		for i := 1; i <= 3; i++ {
			next.expect(t, frames.Chunk, fmt.Appendf(nil, "chunk %d\n", i))
		}
		next.expect(t, frames.End, []byte{})
		for _, r := range s.drain() {
			if r.seq > head.seq || r.f.Type != frames.Chunk {
				t.Errorf("stopped stream sent %s %q (frame %d; the next request's headers were frame %d)",
					r.f.Type, r.f.Body, r.seq, head.seq)
			}
		}
	})

	t.Run("not-found", func(t *testing.T) {
		t.Parallel()
		s := g.open(t, 1)
		s.request(t, "GET /nope", "")
		checkHead(t, s.expect(t, frames.Headers, nil), 404, "text/plain", 10, "not found\n")
	})

	t.Run("second-inbound", func(t *testing.T) {
		t.Parallel()
		g2 := newInbound(t, "ipc://"+filepath.Join(dir, "in2.sock"))
		g2.peer = g.peer
		s := g2.open(t, 1)
		s.request(t, "GET /elsewhere", "")
		checkHead(t, s.expect(t, frames.Headers, nil), 404, "text/plain", 10, "not found\n")
	})

	t.Run("malformed", func(t *testing.T) {
		t.Parallel()
		msgs := invalidVectors(t)
		sid := newSID(t)
		hexSID := hex.EncodeToString(sid[:])
		for _, head := range []string{
			"GET / HTTP/1.1",                    // no LF
			"GET / HTTP/1.1\r\nHost: h\r\n",     // no empty line
			"GET\r\nHost: h\r\n\r\n",            // no target
			"GET / HTTP/1.1\r\n: v\r\n\r\n",     // no header name
			"GET / HTTP/1.1\r\nHost: h\r\n\r\n", // no X-Nanogate-Inbound
			"POST / HTTP/1.1\r\nContent-Length: x\r\nX-Nanogate-Inbound: " + g.url + "\r\n\r\n",
			// A client's own X-Nanogate-Inbound in front of the gateway's.
			"GET / HTTP/1.1\r\nX-Nanogate-Inbound: tcp://192.0.2.1:9\r\nX-Nanogate-Inbound: " + g.url + "\r\n\r\n",
		} {
			msgs = append(msgs, frames.Append(nil, sid, frames.Request, 9, []byte(head)))
		}
		msgs = append(msgs, nil, []byte(hexSID), []byte(hexSID+" request"), []byte(hexSID+" request 1"))
		for _, m := range msgs {
			if err := g.peer.Send(m, nil); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		s := g.openSID(t, sid, 10)
		s.request(t, "GET /still-there", "")
		checkHead(t, s.expect(t, frames.Headers, nil), 404, "text/plain", 10, "not found\n")
		w.log.waitCount(t, "rejected:", len(msgs))
	})
}

// ---- the worker process ---------------------------------------------------

// buildWorker compiles backend-sdk/c/<src> with the command its README
// gives. A warning fails the test as an error does; a missing compiler or
// libnanomsg is a failure, not a skip: CI installs them.
func buildWorker(t *testing.T, src string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("no gcc: run `make deps` (Debian: gcc libc6-dev libnanomsg-dev): %v", err)
	}
	path := filepath.Join("..", src)
	bin := filepath.Join(t.TempDir(), strings.TrimSuffix(src, ".c"))
	out, err := exec.Command(gcc, "-Wall", "-Wextra", "-O2", "-o", bin, path, "-lnanomsg").CombinedOutput()
	switch {
	case err != nil && bytes.Contains(out, []byte("nanomsg")):
		t.Fatalf("cannot build %s against libnanomsg: run `make deps` (Debian: libnanomsg-dev): %v\n%s", src, err, out)
	case err != nil:
		t.Fatalf("gcc %s: %v\n%s", src, err, out)
	case len(out) > 0:
		t.Fatalf("gcc %s: warnings with -Wall -Wextra:\n%s", src, out)
	}
	return bin
}

// socketDir is a temporary directory with a path short enough for unix
// socket addresses (about 100 bytes), which t.TempDir's may not be.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sw")
	if err == nil && len(dir) > 64 {
		os.Remove(dir)
		dir, err = os.MkdirTemp("/tmp", "sw")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

type worker struct {
	url  string
	cmd  *exec.Cmd
	log  *lineLog
	done chan struct{}
	err  error // of Wait, once done is closed
}

// startWorker runs the worker; cleanup stops it with SIGTERM and fails the
// test unless it exits with status 0, which also catches a crash at any
// time before.
func startWorker(t *testing.T, bin, url string) *worker {
	t.Helper()
	w := &worker{url: url, log: &lineLog{changed: make(chan struct{})}, done: make(chan struct{})}
	w.cmd = exec.Command(bin, url)
	w.cmd.Stdout = w.log
	w.cmd.Stderr = w.log
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		w.err = w.cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() { w.stop(t) })
	return w
}

func (w *worker) stop(t *testing.T) {
	defer func() {
		if t.Failed() {
			t.Logf("--- stream_worker (pid %d) stderr:\n%s", w.cmd.Process.Pid, w.log.String())
		}
	}()
	select {
	case <-w.done:
		t.Errorf("worker exited before the end of the test: %v", w.err)
		return
	default:
	}
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-w.done:
		if w.err != nil {
			t.Errorf("worker after SIGTERM: %v, want exit status 0", w.err)
		}
	case <-time.After(5 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
		t.Errorf("worker still running 5s after SIGTERM; killed")
	}
}

// lineLog collects the worker's output and wakes whoever waits on it.
type lineLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
	return l.buf.Write(p)
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitCount waits until substr has been written n times.
func (l *lineLog) waitCount(t *testing.T, substr string, n int) {
	t.Helper()
	deadline := time.After(frameTimeout)
	for {
		l.mu.Lock()
		got, changed := strings.Count(l.buf.String(), substr), l.changed
		l.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("worker logged %q %d times, want %d", substr, got, n)
		}
	}
}

// ---- the gateway's side -----------------------------------------------------

// inbound is the gateway's inbound PULL socket, which routes each frame it
// receives to the stream the test opened for it, and the PUSH peer that
// carries frames to the worker.
type inbound struct {
	url  string
	peer *sp.Peer

	mu      sync.Mutex
	seq     int // frames received so far, in arrival order
	streams map[key]chan received
	strays  []string // frames for no open stream, or not frames at all
}

type key struct {
	sid    [16]byte
	stream uint32
}

type received struct {
	f   frames.Frame // Body is a copy
	at  time.Time
	seq int
}

func newInbound(t *testing.T, url string) *inbound {
	t.Helper()
	g := &inbound{url: url, streams: make(map[key]chan received)}
	pull, err := sp.NewPull(sp.LinkConfig{URL: url, Listen: true, Logger: quiet}, sp.Borrowing(g.deliver))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pull.Close()
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, s := range g.strays {
			t.Errorf("frame for no stream the test opened: %s", s)
		}
	})
	return g
}

// connect dials the worker as the gateway's PUSH does, and waits for it.
func (g *inbound) connect(t *testing.T, w *worker) {
	t.Helper()
	push, err := sp.NewPush(sp.LinkConfig{URL: w.url, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { push.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), frameTimeout)
	defer cancel()
	if g.peer, err = push.Wait(ctx); err != nil {
		t.Fatalf("the worker did not accept a connection at %s: %v\n%s", w.url, err, w.log.String())
	}
}

// deliver runs on the Pull's reader, one message at a time per connection.
func (g *inbound) deliver(msg []byte) {
	f, err := frames.Parse(msg)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seq++
	if err != nil {
		g.strays = append(g.strays, fmt.Sprintf("%q: %v", msg, err))
		return
	}
	f.Body = bytes.Clone(f.Body) // msg is the Pull's until we return
	ch := g.streams[key{f.SID, f.Stream}]
	if ch == nil {
		g.strays = append(g.strays, fmt.Sprintf("%x %s %d %q", f.SID, f.Type, f.Stream, f.Body))
		return
	}
	select {
	case ch <- received{f: f, at: time.Now(), seq: g.seq}:
	default:
		g.strays = append(g.strays, fmt.Sprintf("%x %s %d: the test's queue is full", f.SID, f.Type, f.Stream))
	}
}

func newSID(t *testing.T) (sid [16]byte) {
	t.Helper()
	if _, err := rand.Read(sid[:]); err != nil {
		t.Fatal(err)
	}
	return sid
}

// stream is one request of a session, as the gateway sees it.
type stream struct {
	g   *inbound
	sid [16]byte
	id  uint32
	ch  chan received
}

// open starts a stream of a new session.
func (g *inbound) open(t *testing.T, id uint32) *stream { return g.openSID(t, newSID(t), id) }

func (g *inbound) openSID(t *testing.T, sid [16]byte, id uint32) *stream {
	s := &stream{g: g, sid: sid, id: id, ch: make(chan received, 2048)}
	g.mu.Lock()
	g.streams[key{sid, id}] = s.ch
	g.mu.Unlock()
	return s
}

func (s *stream) send(t *testing.T, typ frames.Type, body []byte) {
	t.Helper()
	if err := s.g.peer.Send(frames.AppendHeader(nil, s.sid, typ, s.id), body); err != nil {
		t.Fatalf("send %s: %v", typ, err)
	}
}

// request sends a request frame: the request line (method and target),
// the extra header lines, then the headers the gateway adds.
func (s *stream) request(t *testing.T, line, extra string) {
	t.Helper()
	head := line + " HTTP/1.1\r\nHost: test\r\n" + extra +
		"X-Request-Id: " + t.Name() + "\r\n" +
		"X-Nanogate-Session: " + hex.EncodeToString(s.sid[:]) + "\r\n" +
		"X-Nanogate-Inbound: " + s.g.url + "\r\n\r\n"
	s.send(t, frames.Request, []byte(head))
}

// expect waits for the stream's next frame and checks its type, and its
// body unless body is nil.
func (s *stream) expect(t *testing.T, typ frames.Type, body []byte) received {
	t.Helper()
	var r received
	select {
	case r = <-s.ch:
	case <-time.After(frameTimeout):
		t.Fatalf("no %s frame within %v", typ, frameTimeout)
	}
	if r.f.Type != typ || body != nil && !bytes.Equal(r.f.Body, body) {
		want := "any body"
		if body != nil {
			want = fmt.Sprintf("%q", body)
		}
		t.Fatalf("got %s %q, want %s %s", r.f.Type, r.f.Body, typ, want)
	}
	return r
}

// drain returns what the stream has received and not been read.
func (s *stream) drain() []received {
	var out []received
	for {
		select {
		case r := <-s.ch:
			out = append(out, r)
		default:
			return out
		}
	}
}

func (s *stream) expectNothing(t *testing.T) {
	t.Helper()
	for _, r := range s.drain() {
		t.Errorf("unexpected %s %q", r.f.Type, r.f.Body)
	}
}

// checkHead parses a headers frame as the gateway would and checks it.
// contentType "" is not checked; length -1 means no Content-Length.
func checkHead(t *testing.T, r received, status int, contentType string, length int64, body string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(r.f.Body)), nil)
	if err != nil {
		t.Fatalf("headers frame %q: %v", r.f.Body, err)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("headers frame %q: body: %v", r.f.Body, err)
	}
	if resp.StatusCode != status || resp.ContentLength != length || string(got) != body {
		t.Errorf("headers frame %q: status %d, Content-Length %d, body %q; want %d, %d, %q",
			r.f.Body, resp.StatusCode, resp.ContentLength, got, status, length, body)
	}
	if ct := resp.Header.Get("Content-Type"); contentType != "" && ct != contentType {
		t.Errorf("Content-Type %q, want %q", ct, contentType)
	}
	if len(resp.TransferEncoding) > 0 {
		t.Errorf("Transfer-Encoding %v: a worker never chunk-encodes", resp.TransferEncoding)
	}
}

// invalidVectors reads protocol/frames/testdata/invalid/: messages every
// frames reader must refuse.
func invalidVectors(t *testing.T) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "protocol", "frames", "testdata", "invalid", "*.frame"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid frame vectors: %v", err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
