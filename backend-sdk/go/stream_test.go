package worker

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/nanogate/nanogate/protocol/frames"
)

// TestStreamGoldenSSE: the golden request frame of an SSE client reaches
// the handler as a request; what it flushes leaves as the golden chunk
// frame, and its return as the golden end frame.
func TestStreamGoldenSSE(t *testing.T) {
	seen := make(chan *http.Request, 1)
	s := &StreamServer{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		io.WriteString(w, "data: 12:00:00\n\n")
		w.(http.Flusher).Flush()
	})}
	g := newFakeGateway(t, s)
	g.sendRaw(withInbound(t, golden(t, "request-sse.frame"), g.inbound))

	r := recv(t, seen, "the handler")
	if r.Method != "GET" || r.RequestURI != "/api/sse" || r.Host != "localhost:8080" ||
		r.RemoteAddr != "127.0.0.1:0" || r.Header.Get("X-Request-Id") != "r-1" ||
		r.Header.Get("X-Nanogate-Session") != testSID || r.ContentLength != 0 {
		t.Errorf("request: %s %s host=%s remote=%s header=%v len=%d",
			r.Method, r.RequestURI, r.Host, r.RemoteAddr, r.Header, r.ContentLength)
	}
	resp, body := g.expectResponse(1)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" ||
		resp.Header.Get("Cache-Control") != "no-cache" || resp.ContentLength != -1 || len(body) != 0 {
		t.Errorf("head: %d %v length %d, body %q", resp.StatusCode, resp.Header, resp.ContentLength, body)
	}
	if f := g.next(); !bytes.Equal(f.raw, golden(t, "chunk.frame")) {
		t.Errorf("chunk frame %q, want chunk.frame", f.raw)
	}
	if f := g.next(); !bytes.Equal(f.raw, golden(t, "end.frame")) {
		t.Errorf("last frame %q, want end.frame", f.raw)
	}
}

// TestStreamChunksArriveAsFlushed: each flush leaves at once, the first
// before the handler writes the second (it waits for the test to have
// seen the first), through http.ResponseController as well.
func TestStreamChunksArriveAsFlushed(t *testing.T) {
	next := make(chan struct{})
	s := &StreamServer{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, err := io.ReadAll(r.Body); err != nil || len(b) != 0 {
			t.Errorf("body of a GET: %q, %v", b, err)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		<-next
		io.WriteString(w, "data: two\n\n")
		w.(http.Flusher).Flush()
		io.WriteString(w, "data: three\n\n")
	})}
	g := newFakeGateway(t, s)
	g.request(1, "GET", "/events", "Accept: text/event-stream\r\n")

	resp, _ := g.expectResponse(1)
	if resp.ContentLength != -1 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("head: length %d, %v", resp.ContentLength, resp.Header)
	}
	if f := g.expect(frames.Chunk, 1); string(f.Body) != "data: one\n\n" {
		t.Errorf("first chunk %q", f.Body)
	}
	close(next)
	if f := g.expect(frames.Chunk, 1); string(f.Body) != "data: two\n\n" {
		t.Errorf("second chunk %q", f.Body)
	}
	if f := g.expect(frames.Chunk, 1); string(f.Body) != "data: three\n\n" {
		t.Errorf("third chunk %q", f.Body)
	}
	g.expect(frames.End, 1)
}

// TestStreamContentLength: a reply that fits the write buffer goes whole,
// with its Content-Length, in the headers frame; one whose handler set a
// Content-Length is streamed in body frames of at most 64 KiB; one short
// of the length it declared ends with close; HEAD gets the length alone.
func TestStreamContentLength(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 20000) // 200000 bytes
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello world")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		w.Header().Set("Content-Type", "application/octet-stream")
		for b := big; len(b) > 0; b = b[1000:] {
			w.Write(b[:1000])
		}
	})
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "12345")
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		if _, err := io.WriteString(w, "x"); err != http.ErrBodyNotAllowed {
			t.Errorf("body on 204: %v", err)
		}
	})
	g := newFakeGateway(t, &StreamServer{Handler: mux})

	g.request(1, "GET", "/small", "")
	resp, body := g.expectResponse(1)
	if resp.ContentLength != 11 || string(body) != "hello world" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("small: length %d, %v, body %q", resp.ContentLength, resp.Header, body)
	}
	g.expect(frames.End, 1)

	g.request(2, "GET", "/big", "")
	resp, body = g.expectResponse(2)
	if resp.ContentLength != int64(len(big)) || len(body) != 0 {
		t.Fatalf("big: length %d, %d bytes in the head frame", resp.ContentLength, len(body))
	}
	var got []byte
	for len(got) < len(big) {
		f := g.expect(frames.Body, 2)
		if len(f.Body) > maxFrameBody || len(f.Body) == 0 {
			t.Fatalf("body frame of %d bytes", len(f.Body))
		}
		got = append(got, f.Body...)
	}
	if !bytes.Equal(got, big) {
		t.Error("big: body differs")
	}
	g.expect(frames.End, 2)

	g.request(3, "GET", "/short", "")
	resp, body = g.expectResponse(3)
	if resp.ContentLength != 10 || string(body) != "12345" {
		t.Errorf("short: length %d, body %q", resp.ContentLength, body)
	}
	g.expect(frames.Close, 3)

	g.request(4, "HEAD", "/small", "")
	resp, body = g.expectResponse(4)
	if resp.Header.Get("Content-Length") != "11" || len(body) != 0 {
		t.Errorf("head: %v, body %q", resp.Header, body)
	}
	g.expect(frames.End, 4)

	g.request(5, "GET", "/nocontent", "")
	resp, body = g.expectResponse(5)
	if resp.StatusCode != 204 || resp.Header.Get("Content-Length") != "" || len(body) != 0 {
		t.Errorf("204: %d %v, body %q", resp.StatusCode, resp.Header, body)
	}
	g.expect(frames.End, 5)
}

// TestStreamRequestBody: a body of several MiB in 64 KiB body frames,
// more than the worker buffers per stream, is read whole by the handler,
// with its Content-Length; the golden chunked upload arrives with
// ContentLength -1.
func TestStreamRequestBody(t *testing.T) {
	type result struct {
		n      int64
		sum    [32]byte
		length int64
		te     []string
		err    error
	}
	results := make(chan result, 2)
	s := &StreamServer{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		res := result{n: n, length: r.ContentLength, te: r.TransferEncoding, err: err}
		copy(res.sum[:], h.Sum(nil))
		results <- res
		fmt.Fprint(w, n)
	})}
	g := newFakeGateway(t, s)

	body := make([]byte, 5<<20+12345)
	for i := range body {
		body[i] = byte(i * 7)
	}
	g.request(1, "POST", "/upload", fmt.Sprintf("Content-Length: %d\r\n", len(body)))
	for b := body; len(b) > 0; {
		n := min(len(b), 64<<10)
		g.send(frames.Body, 1, b[:n])
		b = b[n:]
	}
	g.send(frames.Body, 1, nil)
	res := recv(t, results, "the upload's handler")
	if res.err != nil || res.n != int64(len(body)) || res.sum != sha256.Sum256(body) || res.length != int64(len(body)) {
		t.Errorf("read %d bytes (%v), length %d, same sum %v", res.n, res.err, res.length, res.sum == sha256.Sum256(body))
	}
	if _, b := g.expectResponse(1); string(b) != fmt.Sprint(len(body)) {
		t.Errorf("reply %q", b)
	}
	g.expect(frames.End, 1)

	g.sendRaw(withInbound(t, golden(t, "request-upload.frame"), g.inbound))
	g.sendRaw(golden(t, "body-binary.frame"))
	g.sendRaw(golden(t, "body-end.frame"))
	res = recv(t, results, "the golden upload's handler")
	want := []byte("hello \x00world")
	if res.err != nil || res.sum != sha256.Sum256(want) || res.length != -1 || len(res.te) != 1 || res.te[0] != "chunked" {
		t.Errorf("golden upload: %d bytes (%v), length %d, te %q", res.n, res.err, res.length, res.te)
	}
	g.expectResponse(2)
	g.expect(frames.End, 2)
}

// TestStreamCredit: a handler writing 4 windows sends frames.Window bytes,
// then waits for credit (the golden credit frame first), and never runs
// ahead of what was granted; credits that do not fall on frame boundaries
// show that it splits its frames to fit.
func TestStreamCredit(t *testing.T) {
	const total = 4 * frames.Window
	wrote := make(chan error, 1)
	s := &StreamServer{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		_, err := w.Write(make([]byte, total))
		wrote <- err
	})}
	g := newFakeGateway(t, s)
	g.request(2, "GET", "/big", "")
	g.expectResponse(2)

	granted, got := frames.Window, 0
	for got < total {
		f := g.expect(frames.Chunk, 2)
		got += len(f.Body)
		if got > granted {
			t.Fatalf("worker sent %d body bytes, granted %d", got, granted)
		}
		if got < granted {
			continue
		}
		if got == frames.Window {
			select {
			case err := <-wrote:
				t.Fatalf("Write returned (%v) with its window used up", err)
			default:
			}
			g.sendRaw(golden(t, "credit.frame")) // 262144 more
			granted += 262144
			continue
		}
		n := min(100000, total-got)
		g.send(frames.Credit, 2, fmt.Append(nil, n))
		granted += n
	}
	if err := recv(t, wrote, "Write"); err != nil {
		t.Errorf("Write: %v", err)
	}
	g.expect(frames.End, 2)
}

// TestStreamEndCancels: the gateway's end cancels the handler's context,
// fails a body read in progress and later writes, and nothing more is
// sent for that stream.
func TestStreamEndCancels(t *testing.T) {
	type result struct{ readErr, ctxErr, writeErr error }
	results := make(chan result, 1)
	reading := make(chan struct{})
	s := &StreamServer{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			io.WriteString(w, "next")
			return
		}
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		close(reading)
		var res result
		_, res.readErr = io.ReadAll(r.Body)
		<-r.Context().Done()
		res.ctxErr = r.Context().Err()
		_, res.writeErr = io.WriteString(w, "late")
		w.(http.Flusher).Flush()
		results <- res
	})}
	g := newFakeGateway(t, s)
	g.request(1, "POST", "/slow", "Content-Length: 100\r\n")
	g.send(frames.Body, 1, []byte("first part"))
	g.expectResponse(1)
	g.expect(frames.Chunk, 1)
	recv(t, reading, "the handler to read")
	g.send(frames.End, 1, nil)

	res := recv(t, results, "the handler")
	if !errors.Is(res.readErr, ErrStreamEnded) || res.ctxErr == nil || !errors.Is(res.writeErr, ErrStreamEnded) {
		t.Errorf("read: %v, context: %v, write: %v", res.readErr, res.ctxErr, res.writeErr)
	}
	// The next stream's reply is the next frame: nothing came for stream 1.
	g.request(2, "GET", "/next", "")
	g.expectResponse(2)
	g.expect(frames.End, 2)
}

// TestStreamPanic: a panic before anything was sent is a 500, logged with
// the request id; after the head was sent, the stream ends with close.
func TestStreamPanic(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/early", func(http.ResponseWriter, *http.Request) { panic("boom early") })
	mux.HandleFunc("/late", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "started")
		w.(http.Flusher).Flush()
		panic("boom late")
	})
	log, logs := newLogger()
	g := newFakeGateway(t, &StreamServer{Handler: mux, Logger: log})

	g.request(1, "GET", "/early", "")
	resp, body := g.expectResponse(1)
	if resp.StatusCode != 500 || string(body) != "Internal Server Error\n" {
		t.Errorf("early panic: %d %q", resp.StatusCode, body)
	}
	g.expect(frames.End, 1)

	g.request(2, "GET", "/late", "")
	g.expectResponse(2)
	g.expect(frames.Chunk, 2)
	g.expect(frames.Close, 2)
	for _, want := range []string{"boom early", "request_id=r-1", "boom late", "request_id=r-2"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}
