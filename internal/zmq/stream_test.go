//go:build !nozmq

package zmq

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A raw TCP client of a StreamSocket: the connect notification names its
// IP, its bytes arrive under its identity, what is sent before [id, ""]
// reaches it whole before the connection closes (the ZMQ_STREAM front end
// relies on this for Connection: close), and a second client's disconnect
// is notified.
func TestStreamSocket(t *testing.T) {
	l := newLoop(t, "stream")
	in := make(chan [][]byte, 100)
	known := map[string]bool{} // the loop's goroutine's only
	s, err := l.StreamSocket(Options{}, func(p [][]byte) {
		if len(p[1]) == 0 {
			known[string(p[0])] = !known[string(p[0])] // connect, then disconnect
		}
		in <- p
	}, func(id []byte) bool { return known[string(id)] })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	startLoop(t, l)
	addr := strings.TrimPrefix(s.Endpoint(), "tcp://")

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := recv(t, in)
	if len(p) != 3 || len(p[1]) != 0 || string(p[2]) != "127.0.0.1" {
		t.Fatalf("connect notification %q", p)
	}
	id := p[0]
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if p = recv(t, in); len(p) != 2 || !bytes.Equal(p[0], id) || string(p[1]) != "hello" {
		t.Fatalf("data %q", p)
	}
	big := bytes.Repeat([]byte("x"), 64<<10)
	const n = 64 // 4 MiB queued, then the close
	for range n {
		if err := l.Send(s, id, big); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Send(s, id, nil); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.Copy(io.Discard, c)
	if err != nil || got != n*int64(len(big)) {
		t.Fatalf("client read %d bytes, %v; want %d then EOF", got, err, n*len(big))
	}

	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p = recv(t, in)
	c2.Close()
	if q := recv(t, in); len(q) != 2 || !bytes.Equal(q[0], p[0]) || len(q[1]) != 0 {
		t.Fatalf("disconnect notification %q after connect %q", q, p)
	}
}
