package hub

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nanogate/nanogate/internal/pieces"
	"github.com/nanogate/nanogate/internal/sp"
	"github.com/nanogate/nanogate/protocol/frames"
)

var quiet = slog.New(slog.DiscardHandler)

// rig is a hub with one pool, a PULL standing in for the worker and a
// PUSH standing in for any process that pushes to the inbound address.
type rig struct {
	h      *Hub
	pool   *Pool
	toWork chan frames.Frame
	push   *sp.Push
}

func newRig(t *testing.T) *rig {
	t.Helper()
	dir, err := os.MkdirTemp("", "hub")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	in, ep := "ipc://"+filepath.Join(dir, "in"), "ipc://"+filepath.Join(dir, "w")
	h, err := New(Config{Inbound: in, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	r := &rig{h: h, toWork: make(chan frames.Frame, 64)}
	worker, err := sp.NewPull(sp.LinkConfig{URL: ep, Listen: true, Logger: quiet}, sp.Borrowing(func(msg []byte) {
		f, err := frames.Parse(msg)
		if err != nil {
			t.Errorf("hub sent %q: %v", msg, err)
			return
		}
		f.Body = append([]byte(nil), f.Body...)
		r.toWork <- f
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { worker.Close() })
	if r.pool, err = h.NewPool(PoolConfig{Name: "t", Endpoints: []Endpoint{{URL: ep}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.pool.Close() })
	if r.push, err = sp.NewPush(sp.LinkConfig{URL: in, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.push.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for r.pool.Workers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("worker never connected")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return r
}

func (r *rig) pushFrame(t *testing.T, sid [16]byte, ty frames.Type, stream uint32, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pe, err := r.push.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pe.Send(nil, frames.Append(nil, sid, ty, stream, []byte(body)))
}

// open opens stream num of session sid on the rig's pool, closed when the
// test ends.
func (r *rig) open(t *testing.T, sid [16]byte, num uint32) *Stream {
	t.Helper()
	st, err := r.pool.Open(sid, num)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(false) })
	return st
}

// waitQueued waits until n frames are queued on st, unread: pushed frames
// reach it through the hub's inbound socket, which a test cannot observe.
func waitQueued(t *testing.T, st *Stream, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		st.mu.Lock()
		q := len(st.q) - st.head
		st.mu.Unlock()
		if q == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d frames queued, want %d", q, n)
		}
	}
}

func TestDeliverAndOrder(t *testing.T) {
	r := newRig(t)
	sid := [16]byte{1}
	st := r.open(t, sid, 7)
	if err := st.Send(frames.Request, []byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if f := <-r.toWork; f.Type != frames.Request || f.SID != sid || f.Stream != 7 {
		t.Fatalf("worker got %+v", f)
	}
	r.pushFrame(t, sid, frames.Chunk, 7, "a")
	r.pushFrame(t, sid, frames.Chunk, 6, "stale") // an ended stream: dropped
	r.pushFrame(t, sid, frames.Chunk, 0, "b")     // 0: the current stream
	for _, want := range []string{"a", "b"} {
		ty, body, err := st.Next(5 * time.Second)
		if err != nil || ty != frames.Chunk || string(body) != want {
			t.Fatalf("Next = %s %q %v, want chunk %q", ty, body, err, want)
		}
	}
	if d := r.h.Drops(); d["ended_stream"] != 1 {
		t.Fatalf("drops %v", d)
	}
	if r.h.Live() != 1 {
		t.Fatalf("live %d", r.h.Live())
	}
}

func TestIdleAndClose(t *testing.T) {
	r := newRig(t)
	st, err := r.pool.Open([16]byte{2}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Next(20 * time.Millisecond); err != ErrIdle {
		t.Fatalf("Next on a silent stream: %v, want ErrIdle", err)
	}
	st.Close(true)
	if f := <-r.toWork; f.Type != frames.End {
		t.Fatalf("worker got %s, want end", f.Type)
	}
	if r.h.Live() != 0 {
		t.Fatal("closed stream still registered")
	}
	r.pushFrame(t, [16]byte{2}, frames.Chunk, 1, "late")
	deadline := time.Now().Add(5 * time.Second)
	for r.h.Drops()["unknown_session"] != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("drops %v", r.h.Drops())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestOverflow: a worker that sends past the window without the client
// reading cuts the stream instead of growing the queue.
func TestOverflow(t *testing.T) {
	r := newRig(t)
	sid := [16]byte{3}
	st := r.open(t, sid, 1)
	piece := strings.Repeat("x", 64<<10)
	for range maxQueuedBytes/len(piece) + 2 {
		r.pushFrame(t, sid, frames.Body, 1, piece)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.h.Drops()["overflow"] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no overflow: drops %v", r.h.Drops())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, _, err := st.Next(5 * time.Second); err != ErrOverflow {
		t.Fatalf("after the window: %v, want ErrOverflow", err)
	}
}

// TestWorkerLost: frames queued before the worker left are still read,
// then ErrWorkerLost; with no worker, Open fails at once.
func TestWorkerLost(t *testing.T) {
	r := newRig(t)
	sid := [16]byte{4}
	st := r.open(t, sid, 1)
	r.pushFrame(t, sid, frames.Chunk, 1, "last words")
	waitQueued(t, st, 1)
	r.pool.Close()
	if _, body, err := st.Next(5 * time.Second); err != nil || string(body) != "last words" {
		t.Fatalf("queued frame: %q %v", body, err)
	}
	if _, _, err := st.Next(5 * time.Second); err != ErrWorkerLost {
		t.Fatalf("after the worker left: %v", err)
	}
	if _, err := r.pool.Open([16]byte{5}, 1); err != ErrNoWorker {
		t.Fatalf("Open with no worker: %v", err)
	}
}

// TestPingPong: a ping for a live stream is answered on its worker's
// connection.
func TestPingPong(t *testing.T) {
	r := newRig(t)
	sid := [16]byte{6}
	r.open(t, sid, 1)
	r.pushFrame(t, sid, frames.Ping, 0, "")
	select {
	case f := <-r.toWork:
		if f.Type != frames.Pong || f.SID != sid {
			t.Fatalf("got %+v", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
}

// TestLargeFramesKeptInOrder: large chunks through the inbound socket
// (kept in the reader's buffer, not copied) and small ones (copied) reach
// Next whole and in order, and each stays intact until the next call
// although the reader goes on reading; SendOwned reaches the worker.
func TestLargeFramesKeptInOrder(t *testing.T) {
	r := newRig(t)
	sid := [16]byte{2}
	st := r.open(t, sid, 1)
	if err := st.SendOwned(frames.Body, pieces.Copy(bytes.Repeat([]byte("u"), 100<<10))); err != nil {
		t.Fatal(err)
	}
	if f := <-r.toWork; f.Type != frames.Body || len(f.Body) != 100<<10 || f.Body[0] != 'u' {
		t.Fatalf("worker got %s of %d bytes", f.Type, len(f.Body))
	}
	sizes := []int{64 << 10, 3, 200 << 10, 64 << 10, 10, 40 << 10}
	for i, n := range sizes {
		r.pushFrame(t, sid, frames.Chunk, 1, strings.Repeat(string(rune('a'+i)), n))
	}
	for i, n := range sizes {
		ty, body, err := st.Next(5 * time.Second)
		if err != nil || ty != frames.Chunk || len(body) != n {
			t.Fatalf("frame %d: %s of %d bytes, %v; want a chunk of %d", i, ty, len(body), err, n)
		}
		if want := bytes.Repeat([]byte{byte('a' + i)}, n); !bytes.Equal(body, want) {
			t.Fatalf("frame %d differs", i)
		}
	}
}

// TestMore: More takes the chunks queued behind the one Next returned, up
// to its byte bound, and stops at another type and at the empty chunk that
// ends a body; what it took stays intact until the next Next.
func TestMore(t *testing.T) {
	r := newRig(t)
	sid := [16]byte{3}
	st := r.open(t, sid, 1)
	for _, body := range []string{"a", "bb", "ccc", "dddd", ""} {
		r.pushFrame(t, sid, frames.Chunk, 1, body)
	}
	r.pushFrame(t, sid, frames.End, 1, "")
	if ty, body, err := st.Next(5 * time.Second); err != nil || ty != frames.Chunk || string(body) != "a" {
		t.Fatalf("Next = %s %q %v", ty, body, err)
	}
	waitQueued(t, st, 5) // everything, the end frame last
	if more := st.More(frames.Chunk, nil, 5); len(more) != 2 || string(more[0]) != "bb" || string(more[1]) != "ccc" {
		t.Fatalf("More(5) = %q, want bb, ccc", more)
	}
	if more := st.More(frames.Chunk, nil, 100); len(more) != 1 || string(more[0]) != "dddd" {
		t.Fatalf("More(100) = %q, want dddd (then the ending empty chunk stays)", more)
	}
	for _, want := range []frames.Type{frames.Chunk, frames.End} {
		if ty, _, err := st.Next(5 * time.Second); err != nil || ty != want {
			t.Fatalf("Next = %s %v, want %s", ty, err, want)
		}
	}
}
