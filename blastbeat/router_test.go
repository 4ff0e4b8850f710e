//go:build !nozmq

package blastbeat

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nanogate/nanogate/hub"
	"github.com/nanogate/nanogate/internal/zmq"
	"github.com/nanogate/nanogate/protocol/frames"
	"github.com/nanogate/nanogate/protocol/uwsgi"
)

// dealer is a BlastBeat dealer made of a real libzmq DEALER socket: it
// answers pings unless told not to, and hands every other message to the
// test.
type dealer struct {
	t    *testing.T
	loop *zmq.Loop
	sock *zmq.Socket
	in   chan [][]byte
	mute chan bool
}

func newDealer(t *testing.T, name, addr string) *dealer {
	t.Helper()
	d := &dealer{t: t, in: make(chan [][]byte, 100), mute: make(chan bool, 1)}
	muted := false
	l, err := zmq.NewLoop("dealer "+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.loop = l
	d.sock, err = l.Socket(zmq.Dealer, zmq.Options{Identity: []byte(name)}, func(p [][]byte) {
		select {
		case muted = <-d.mute:
		default:
		}
		if len(p) == 3 && string(p[1]) == "ping" {
			if !muted {
				d.sock.SendNow(p[0], []byte("pong"), nil)
			}
			return
		}
		d.in <- p
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.sock.Connect(addr); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- l.Run() }()
	t.Cleanup(func() { d.close(); <-errc })
	return d
}

func (d *dealer) close() { d.loop.Close() }

func (d *dealer) send(parts ...[]byte) {
	if err := d.loop.Send(d.sock, parts...); err != nil {
		d.t.Fatal(err)
	}
}

func (d *dealer) recv() [][]byte {
	d.t.Helper()
	select {
	case p := <-d.in:
		return p
	case <-time.After(5 * time.Second):
		d.t.Fatal("dealer got nothing")
		return nil
	}
}

func newRouter(t *testing.T, c Config) *Router {
	t.Helper()
	h, err := hub.New(hub.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c.Hub = h
	if c.Bind == "" {
		c.Bind = "tcp://127.0.0.1:0"
	}
	if c.PingEvery == 0 {
		c.PingEvery = 200 * time.Millisecond // off after 600ms unheard: no flapping on a loaded machine
	}
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// waitUp waits until v has n nodes up.
func waitUp(t *testing.T, v *Vhost, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for v.Workers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d nodes up, want %d", v.Workers(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func open(t *testing.T, v *Vhost, sid byte, num uint32) *hub.Stream {
	t.Helper()
	st, err := v.Open([16]byte{sid}, num)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(frames.Request, []byte(head)); err != nil {
		t.Fatal(err)
	}
	return st
}

func next(t *testing.T, st *hub.Stream) (frames.Type, string) {
	t.Helper()
	ty, b, err := st.Next(5 * time.Second)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ty, string(b)
}

// A request goes out as a uwsgi packet under the session's sid; the
// dealer's headers, body and end come back as frames, end as close.
func TestRoundTrip(t *testing.T) {
	r := newRouter(t, Config{})
	v := r.Vhost("localhost:8080", []string{"n1"}, Uwsgi)
	d := newDealer(t, "n1", r.Endpoint())
	waitUp(t, v, 1)

	st := open(t, v, 7, 1)
	defer st.Close(false)
	p := d.recv()
	if len(p) != 3 || p[0][0] != 7 || string(p[1]) != "uwsgi" {
		t.Fatalf("dealer got %q", p)
	}
	for k, want := range map[string]string{"REQUEST_METHOD": "GET", "PATH_INFO": "/hello", "QUERY_STRING": "x=1",
		"SERVER_NAME": "localhost", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
		"HTTP_USER_AGENT": "t", "HTTP_HOST": "localhost:8080"} {
		if got, ok := uwsgi.Get(p[2], k); !ok || string(got) != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, ok := uwsgi.Get(p[2], "HTTP_X_NANOGATE_INBOUND"); ok {
		t.Error("the inbound header reached the dealer")
	}
	d.send(p[0], []byte("headers"), []byte("HTTP/1.1 200 OK\r\n\r\n"))
	d.send(p[0], []byte("body"), []byte("hi"))
	d.send(p[0], []byte("end"), nil)
	for _, want := range []string{"headers:HTTP/1.1 200 OK\r\n\r\n", "body:hi", "close:"} {
		ty, b := next(t, st)
		if got := ty.String() + ":" + b; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	// Body pieces go out as body; the empty one that ends a body does not.
	st.Send(frames.Body, []byte("up"))
	st.Send(frames.Body, nil)
	st.Send(frames.End, nil)
	for _, want := range []string{"body:up", "end:"} {
		p := d.recv()
		if got := string(p[1]) + ":" + string(p[2]); got != want {
			t.Fatalf("dealer got %q, want %q", got, want)
		}
	}
}

// A later keep-alive request of the session gets a sid of its own.
func TestSIDPerRequest(t *testing.T) {
	sid := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 9}
	if bbSID(sid, 1) != sid {
		t.Fatal("the first request's sid is not the session id")
	}
	if a, b := bbSID(sid, 2), bbSID(sid, 3); a == sid || a == b || [12]byte(a[:12]) != [12]byte(b[:12]) {
		t.Fatalf("sids %x %x", a, b)
	}
}

// Bad input from a dealer is counted and reaches no stream; a dealer
// cannot write to a request of another node.
func TestBadInput(t *testing.T) {
	r := newRouter(t, Config{})
	v := r.Vhost("h", []string{"n1", "n2"}, Uwsgi)
	d1 := newDealer(t, "n1", r.Endpoint())
	d2 := newDealer(t, "n2", r.Endpoint())
	rogue := newDealer(t, "rogue", r.Endpoint())
	waitUp(t, v, 2)
	st := open(t, v, 1, 1)
	defer st.Close(false)
	owner, other := d1, d2
	var p [][]byte
	select {
	case p = <-d1.in:
	case p = <-d2.in:
		owner, other = d2, d1
	case <-time.After(5 * time.Second):
		t.Fatal("no dealer got the request")
	}
	sid := p[0]
	other.send(sid, []byte("body"), []byte("not yours"))        // foreign_sid
	owner.send(sid, []byte("@x:websocket"), []byte("routed"))   // unknown_type
	owner.send([]byte("0123456789abcdef"), []byte("body"), nil) // unknown_sid
	owner.send(sid, []byte("body"))                             // malformed: two parts
	rogue.send(sid, []byte("body"), []byte("rogue"))            // unknown_node
	owner.send(sid, []byte("body"), []byte("mine"))
	if ty, b := next(t, st); ty != frames.Body || b != "mine" {
		t.Fatalf("stream got %v %q", ty, b)
	}
	want := map[string]uint64{"foreign_sid": 1, "unknown_type": 1, "unknown_sid": 1, "malformed": 1, "unknown_node": 1}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := r.Stats().Drops
		ok := true
		for k, n := range want {
			ok = ok && got[k] == n
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("drops %v, want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A dealer that stops answering pings gets no new sessions, and gets them
// again when it answers; one that goes away ends its requests.
func TestHealth(t *testing.T) {
	r := newRouter(t, Config{PingEvery: 100 * time.Millisecond})
	v := r.Vhost("h", []string{"n1", "n2"}, Uwsgi)
	d1 := newDealer(t, "n1", r.Endpoint())
	newDealer(t, "n2", r.Endpoint())
	waitUp(t, v, 2)
	d1.mute <- true
	waitUp(t, v, 1)
	for i := range 5 {
		open(t, v, byte(i), 1).Close(false)
	}
	select {
	case p := <-d1.in:
		t.Fatalf("a muted node got %q", p)
	default:
	}
	d1.mute <- false
	waitUp(t, v, 2)

	st := open(t, v, 9, 1)
	defer st.Close(false)
	var owner *dealer
	select {
	case <-d1.in:
		owner = d1
	case <-time.After(5 * time.Second):
		t.Fatal("n1 did not get the request (it has the fewest)")
	}
	owner.close()
	_, _, err := st.Next(5 * time.Second)
	if !errors.Is(err, hub.ErrWorkerLost) {
		t.Fatalf("Next after the dealer left: %v", err)
	}
}

// retry moves the request to the other node under the same sid; past
// max-hops the request ends.
func TestRetry(t *testing.T) {
	r := newRouter(t, Config{MaxHops: 2})
	v := r.Vhost("h", []string{"n1", "n2"}, Headers)
	ds := map[string]*dealer{"n1": newDealer(t, "n1", r.Endpoint()), "n2": newDealer(t, "n2", r.Endpoint())}
	waitUp(t, v, 2)
	st := open(t, v, 3, 1)
	defer st.Close(false)
	var got []string
	cur := ""
	for range 3 {
		var p [][]byte
		select {
		case p = <-ds["n1"].in:
			cur = "n1"
		case p = <-ds["n2"].in:
			cur = "n2"
		case <-time.After(5 * time.Second):
			t.Fatalf("no dealer got the request; so far %v", got)
		}
		if string(p[1]) != "headers" || !strings.HasPrefix(string(p[2]), "GET /hello") || strings.Contains(string(p[2]), "Inbound") {
			t.Fatalf("%s got %q", cur, p)
		}
		got = append(got, cur)
		ds[cur].send(p[0], []byte("retry"), nil)
	}
	if fmt.Sprint(got) != "[n1 n2 n1]" && fmt.Sprint(got) != "[n2 n1 n2]" {
		t.Fatalf("request went to %v", got)
	}
	if _, _, err := st.Next(5 * time.Second); !errors.Is(err, hub.ErrWorkerLost) {
		t.Fatalf("after max-hops: %v", err)
	}
}

// A dealer that sends faster than its client reads gets its request cut
// once the stream holds its bound, counted by the hub; the gateway holds
// no more than that.
func TestFlood(t *testing.T) {
	r := newRouter(t, Config{})
	v := r.Vhost("h", []string{"n1"}, Uwsgi)
	d := newDealer(t, "n1", r.Endpoint())
	waitUp(t, v, 1)
	st := open(t, v, 5, 1)
	defer st.Close(false)
	sid := d.recv()[0]
	piece := make([]byte, 64<<10)
	for range 40 { // 2.5 MiB, nobody reading
		d.send(sid, []byte("body"), piece)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.hub.Drops()["overflow"] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no overflow; drops %v", r.hub.Drops())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, _, err := st.Next(time.Second); !errors.Is(err, hub.ErrOverflow) {
		t.Fatalf("Next: %v, want the stream cut", err)
	}
}

// A retry toward a node whose dealer has gone, before any ping noticed,
// ends the request (and the node is taken as lost) instead of hanging.
func TestRetryToGoneNode(t *testing.T) {
	r := newRouter(t, Config{PingEvery: time.Hour}) // one ping, at start
	v := r.Vhost("h", []string{"n1", "n2"}, Uwsgi)
	d1 := newDealer(t, "n1", r.Endpoint())
	d2 := newDealer(t, "n2", r.Endpoint())
	// Any message makes a node available, as in BlastBeat.
	d1.send(nil, []byte("pong"), nil)
	d2.send(nil, []byte("pong"), nil)
	waitUp(t, v, 2)
	st := open(t, v, 4, 1) // n1: first of two idle nodes
	defer st.Close(false)
	p := d1.recv()
	d2.close()
	// The ROUTER learns of the disconnection asynchronously: wait until a
	// send to n2 is refused, without telling the router.
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := make(chan error, 1)
		if err := r.loop.Do(func() { res <- r.sock.SendNow([]byte("n2"), nil, []byte("probe"), nil) }); err != nil {
			t.Fatal(err)
		}
		if zmq.IsHostUnreachable(<-res) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ROUTER still sends to n2")
		}
		time.Sleep(10 * time.Millisecond)
	}
	d1.send(p[0], []byte("retry"), nil)
	if _, _, err := st.Next(5 * time.Second); !errors.Is(err, hub.ErrWorkerLost) {
		t.Fatalf("Next: %v", err)
	}
	if s := r.Stats(); s.Nodes[1].Up {
		t.Fatalf("n2 still up: %+v", s.Nodes)
	}
}
