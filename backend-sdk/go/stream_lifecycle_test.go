package worker

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nanogate/nanogate/protocol/frames"
)

// TestStreamShutdown: Shutdown lets a running handler finish and its
// reply leave; a request that arrives meanwhile is given back with the
// golden retry frame.
func TestStreamShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	s := &StreamServer{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})}
	g := newFakeGateway(t, s)
	g.request(1, "GET", "/slow", "")
	recv(t, started, "the handler")

	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.stopping
	})
	g.request(3, "GET", "/late", "")
	if f := g.next(); !bytes.Equal(f.raw, golden(t, "retry.frame")) {
		t.Errorf("answer during shutdown %q, want retry.frame", f.raw)
	}
	close(release)
	if _, body := g.expectResponse(1); string(body) != "done" {
		t.Errorf("reply %q", body)
	}
	g.expect(frames.End, 1)
	if err := recv(t, shut, "Shutdown"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := s.Listen("ipc:///nonexistent/x.sock"); err != ErrServerClosed {
		t.Errorf("Listen after Shutdown: %v", err)
	}
}

// TestStreamShutdownDeadline: a handler that outlives Shutdown's context
// is cancelled, and Shutdown returns the context's error.
func TestStreamShutdownDeadline(t *testing.T) {
	cancelled := make(chan error, 1)
	started := make(chan struct{})
	s := &StreamServer{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		_, err := io.WriteString(w, "x")
		w.(http.Flusher).Flush()
		cancelled <- err
	})}
	g := newFakeGateway(t, s)
	g.request(1, "GET", "/forever", "")
	recv(t, started, "the handler")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err != context.Canceled {
		t.Errorf("Shutdown: %v", err)
	}
	if err := recv(t, cancelled, "the handler"); err != ErrServerClosed {
		t.Errorf("write after Close: %v", err)
	}
}

// TestStreamMaxStreams: a request over MaxStreams is answered 503 at once.
func TestStreamMaxStreams(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	s := &StreamServer{MaxStreams: 1, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
	})}
	g := newFakeGateway(t, s)
	g.request(1, "GET", "/a", "")
	recv(t, started, "the first handler")
	g.request(2, "GET", "/b", "")
	resp, _ := g.expectResponse(2)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("over MaxStreams: %d %v", resp.StatusCode, resp.Header)
	}
	g.expect(frames.End, 2)
	// The first stream finishes before the sockets close.
	close(release)
	g.expectResponse(1)
	g.expect(frames.End, 1)
}

// TestStreamStallCut: a handler that never reads its body holds the
// gateway's connection only until the stall limit: then its stream is cut
// (close frame, context cancelled) and the other streams flow again.
func TestStreamStallCut(t *testing.T) {
	ctxErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/ignore", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		ctxErr <- r.Context().Err()
	})
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	s := &StreamServer{Handler: mux, stallLimit: 50 * time.Millisecond}
	g := newFakeGateway(t, s)

	piece := make([]byte, 64<<10)
	n := 2*maxQueuedBytes/len(piece) + 1
	g.request(1, "POST", "/ignore", "Content-Length: "+strconv.Itoa(n*len(piece))+"\r\n")
	for range n {
		g.send(frames.Body, 1, piece)
	}
	g.request(2, "GET", "/hello", "")
	g.expect(frames.Close, 1)
	if err := recv(t, ctxErr, "the ignoring handler"); err == nil {
		t.Error("context not cancelled")
	}
	if _, body := g.expectResponse(2); string(body) != "hello" {
		t.Errorf("reply behind the stalled stream %q", body)
	}
	g.expect(frames.End, 2)
}
