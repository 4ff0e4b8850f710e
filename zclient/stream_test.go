//go:build !nozmq

package zclient

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nanogate/nanogate/hub"
	"github.com/nanogate/nanogate/internal/zmq"
	"github.com/nanogate/nanogate/protocol/frames"
	"github.com/nanogate/nanogate/protocol/zhttp"
)

// handler is a ZHTTP handler for the tests, on real libzmq sockets: PULL
// BASE-out, ROUTER BASE-out-stream with an identity, XPUB BASE-in (it
// waits for the gateway's subscription). Packets it receives arrive on in.
type handler struct {
	loop *zmq.Loop
	pub  *zmq.Socket
	id   []byte
	in   chan zhttp.Packet
	subs chan struct{}
}

func newHandler(t *testing.T, base, id string) *handler {
	t.Helper()
	h := &handler{id: []byte(id), in: make(chan zhttp.Packet, 100), subs: make(chan struct{}, 10)}
	var err error
	if h.loop, err = zmq.NewLoop("handler "+id, nil); err != nil {
		t.Fatal(err)
	}
	recv := func(msg []byte) {
		var p zhttp.Packet
		if err := zhttp.Parse(append([]byte(nil), msg...), &p); err != nil {
			t.Errorf("handler got a bad packet %q: %v", msg, err)
			return
		}
		h.in <- p
	}
	pull, err := h.loop.Socket(zmq.Pull, zmq.Options{}, func(parts [][]byte) { recv(parts[0]) })
	if err != nil {
		t.Fatal(err)
	}
	router, err := h.loop.Socket(zmq.Router, zmq.Options{Identity: h.id}, func(parts [][]byte) {
		if len(parts) != 3 || len(parts[1]) != 0 {
			t.Errorf("ROUTER message %q: want [identity, empty, packet]", parts)
			return
		}
		recv(parts[2])
	})
	if err != nil {
		t.Fatal(err)
	}
	h.pub, err = h.loop.Socket(zmq.XPub, zmq.Options{}, func([][]byte) { h.subs <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s   *zmq.Socket
		url string
	}{{pull, base + "-out"}, {router, base + "-out-stream"}, {h.pub, base + "-in"}} {
		if err := c.s.Connect(c.url); err != nil {
			t.Fatal(err)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- h.loop.Run() }()
	t.Cleanup(func() {
		h.loop.Close()
		<-errc
	})
	select {
	case <-h.subs:
	case <-time.After(5 * time.Second):
		t.Fatal("no subscription from the gateway")
	}
	return h
}

// send publishes p (from and the gateway's prefix added).
func (h *handler) send(t *testing.T, p zhttp.Packet) {
	t.Helper()
	p.From = h.id
	h.raw(t, zhttp.Append([]byte("nanogate "), &p))
}

func (h *handler) raw(t *testing.T, msg []byte) {
	t.Helper()
	if err := h.loop.Send(h.pub, msg); err != nil {
		t.Fatal(err)
	}
}

func (h *handler) next(t *testing.T) zhttp.Packet {
	t.Helper()
	select {
	case p := <-h.in:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("the handler got no packet")
	}
	return zhttp.Packet{}
}

func newStream(t *testing.T, c StreamConfig) (*Stream, *hub.Hub, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "zc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	h, _ := hub.New(hub.Config{})
	c.Base, c.Hub = "ipc://"+filepath.Join(dir, "client"), h
	s, err := NewStream(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, h, c.Base
}

var sid = [16]byte{0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// open starts request num of sid with a GET and returns the stream and
// the first packet the handler saw.
func open(t *testing.T, s *Stream, h *handler, num uint32) (*hub.Stream, zhttp.Packet) {
	t.Helper()
	st, err := s.Open(sid, num)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(false) })
	if err := st.Send(frames.Request, []byte("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	return st, h.next(t)
}

func expect(t *testing.T, st *hub.Stream, want frames.Type, body string) {
	t.Helper()
	typ, b, err := st.Next(5 * time.Second)
	if err != nil || typ != want || !strings.HasSuffix(string(b), body) {
		t.Fatalf("got %v %q %v, want %v ...%q", typ, b, err, want, body)
	}
}

// A whole exchange at the packet level: the first packet's fields, seqs
// both ways, the handler's address learnt from its from, credit and
// cancel to it over the ROUTER.
func TestStreamExchange(t *testing.T) {
	s, _, base := newStream(t, StreamConfig{})
	h := newHandler(t, base, "h1")
	st, p := open(t, s, h, 3)
	if string(p.From) != "nanogate" || string(p.IDs[0].ID) != "ab0102030405060708090a0b0c0d0e0f-3" || p.IDs[0].Seq != 0 ||
		string(p.URI) != "http://h/x" || !p.Stream || p.Credits != frames.Window || !p.Multi || p.More {
		t.Fatalf("first packet %+v", p)
	}
	id := p.IDs[0].ID
	h.send(t, zhttp.Packet{IDs: []zhttp.ID{{ID: id, Seq: 0}}, Code: 200, Reason: []byte("OK"), More: true,
		Headers: []zhttp.Header{{Name: []byte("Content-Type"), Value: []byte("text/plain")}}, Body: []byte("a")})
	expect(t, st, frames.Headers, "Content-Type: text/plain\r\n\r\na")
	// Credit from the front end goes to the handler, with seq 1.
	if err := st.Send(frames.Credit, []byte("100")); err != nil {
		t.Fatal(err)
	}
	if c := h.next(t); c.Type != zhttp.Credit || c.Credits != 100 || c.IDs[0].Seq != 1 {
		t.Fatalf("credit %+v", c)
	}
	h.send(t, zhttp.Packet{IDs: []zhttp.ID{{ID: id, Seq: 1}}, Body: []byte("b"), More: true})
	expect(t, st, frames.Body, "b")
	// ping → pong, seq 2.
	h.send(t, zhttp.Packet{IDs: []zhttp.ID{{ID: id, Seq: 2}}, Type: zhttp.Ping})
	if c := h.next(t); c.Type != zhttp.Pong || c.IDs[0].Seq != 2 {
		t.Fatalf("pong %+v", c)
	}
	// The client leaves: cancel, seq 3.
	st.Close(true)
	if c := h.next(t); c.Type != zhttp.Cancel || c.IDs[0].Seq != 3 {
		t.Fatalf("cancel %+v", c)
	}
	if n := s.Live(); n != 0 {
		t.Fatalf("%d live after close", n)
	}
}

// Handoff: the handler asks, the gateway proceeds and stays quiet; a
// packet from another process resumes the request, which then belongs to
// that process's address.
func TestStreamHandoff(t *testing.T) {
	s, _, base := newStream(t, StreamConfig{KeepAlive: 200 * time.Millisecond, SessionTimeout: 10 * time.Second})
	h1 := newHandler(t, base, "h1")
	st, p := open(t, s, h1, 1)
	id := p.IDs[0].ID
	h1.send(t, zhttp.Packet{IDs: []zhttp.ID{{ID: id, Seq: 0}}, Code: 200, More: true})
	expect(t, st, frames.Headers, "\r\n\r\n")
	h1.send(t, zhttp.Packet{IDs: []zhttp.ID{{ID: id, Seq: 1}}, Type: zhttp.HandoffStart})
	for {
		c := h1.next(t)
		if c.Type == zhttp.HandoffProceed {
			break
		}
		if c.Type != zhttp.KeepAlive {
			t.Fatalf("before handoff-proceed: %+v", c)
		}
	}
	h2 := newHandler(t, base, "h2")
	h2.send(t, zhttp.Packet{IDs: []zhttp.ID{{ID: id, Seq: 2}}, Body: []byte("from h2"), More: true})
	expect(t, st, frames.Body, "from h2")
	// Keep-alives now go to h2, whose seq goes on.
	if c := h2.next(t); c.Type != zhttp.KeepAlive || c.IDs[0].Seq < 2 {
		t.Fatalf("keep-alive %+v", c)
	}
	h2.send(t, zhttp.Packet{IDs: []zhttp.ID{{ID: id, Seq: 3}}, Body: []byte("end")})
	expect(t, st, frames.Body, "end")
	expect(t, st, frames.End, "")
}

// Bad input is counted and reaches no request; a packet out of sequence
// ends its request.
func TestStreamBadInput(t *testing.T) {
	s, _, base := newStream(t, StreamConfig{})
	h := newHandler(t, base, "h1")
	st, p := open(t, s, h, 1)
	id := p.IDs[0].ID
	h.raw(t, []byte("nanogate garbage"))
	h.raw(t, []byte("nanogate T0:}")) // no id
	h.raw(t, []byte("nanogateT0:}"))  // not for this gateway: libzmq filters it
	h.send(t, zhttp.Packet{IDs: []zhttp.ID{{ID: []byte("ab0102030405060708090a0b0c0d0e0f-2"), Seq: 0}}, Code: 200, Body: []byte("EVIL")})
	h.send(t, zhttp.Packet{IDs: []zhttp.ID{{ID: []byte("nonsense"), Seq: 0}}, Code: 200, Body: []byte("EVIL")})
	h.send(t, zhttp.Packet{IDs: []zhttp.ID{{ID: id, Seq: 5}}, Code: 200, Body: []byte("late")})
	if _, _, err := st.Next(5 * time.Second); !errors.Is(err, hub.ErrWorkerLost) {
		t.Fatalf("after a packet out of sequence: %v", err)
	}
	d := s.Drops()
	if d["malformed"] != 2 || d["unknown_id"] != 2 || d["bad_seq"] != 1 {
		t.Fatalf("drops %v", d)
	}
}

// A handler whose address the ROUTER knew and then lost (its process
// died) ends its requests at the next keep-alive; a silent one at the
// session timeout.
func TestStreamHandlerGone(t *testing.T) {
	s, _, base := newStream(t, StreamConfig{KeepAlive: 100 * time.Millisecond, SessionTimeout: time.Second})
	h := newHandler(t, base, "h1")
	st, p := open(t, s, h, 1)
	h.send(t, zhttp.Packet{IDs: []zhttp.ID{{ID: p.IDs[0].ID, Seq: 0}}, Code: 200, More: true})
	expect(t, st, frames.Headers, "")
	if c := h.next(t); c.Type != zhttp.KeepAlive {
		t.Fatalf("%+v", c)
	}
	h.loop.Close()
	start := time.Now()
	if _, _, err := st.Next(5 * time.Second); !errors.Is(err, hub.ErrWorkerLost) {
		t.Fatalf("%v", err)
	}
	if el := time.Since(start); el > 900*time.Millisecond {
		t.Fatalf("noticed after %v, later than the session timeout would", el)
	}

	h2 := newHandler(t, base, "h2")
	st2, _ := open(t, s, h2, 2)
	start = time.Now()
	if _, _, err := st2.Next(5 * time.Second); !errors.Is(err, hub.ErrWorkerLost) {
		t.Fatalf("%v", err)
	}
	if el := time.Since(start); el < 800*time.Millisecond {
		t.Fatalf("a silent handler's request ended after %v, before the session timeout", el)
	}
}

func TestIDs(t *testing.T) {
	id := appendID(nil, sid, 4294967295)
	got, num, ok := parseID(id)
	if !ok || got != sid || num != 4294967295 {
		t.Fatalf("%q: %v %v %v", id, got, num, ok)
	}
	for _, bad := range []string{"", "-1", "ab0102030405060708090a0b0c0d0e0f", "AB0102030405060708090a0b0c0d0e0f-1",
		"ab0102030405060708090a0b0c0d0e0f-4294967296", "ab0102030405060708090a0b0c0d0e0f-x"} {
		if _, _, ok := parseID([]byte(bad)); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, _, _, err := Endpoints("tcp://127.0.0.1:65534"); err == nil {
		t.Error("tcp base without room for three ports accepted")
	}
	if a, b, c, err := Endpoints("tcp://127.0.0.1:5000"); err != nil || a != "tcp://127.0.0.1:5000" || b != "tcp://127.0.0.1:5001" || c != "tcp://127.0.0.1:5002" {
		t.Errorf("%s %s %s %v", a, b, c, err)
	}
}
