package frontend

import (
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// handOffPair is a loopback connection whose server end belongs to s, and
// a send for s.HandOff that delivers what it is given on the channel.
func handOffPair(t *testing.T, s *Server) (c *clientConn, client net.Conn, send func(*os.File) error, sent <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	sc, err := listener{ln, s}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	ch := make(chan net.Conn, 1)
	send = func(f *os.File) error {
		nc, err := net.FileConn(f) // a duplicate: the caller closes f
		if err != nil {
			return err
		}
		t.Cleanup(func() { nc.Close() })
		ch <- nc
		return nil
	}
	return sc.(*clientConn), client, send, ch
}

// TestHandOffAsConnGoesIdle: a HandOff that comes as a connection starts
// waiting for its next request, before it is marked waiting, still hands
// it over. It was missed: the connection waited out its idle timeout.
func TestHandOffAsConnGoesIdle(t *testing.T) {
	t.Parallel()
	s := &Server{}
	c, client, send, sent := handOffPair(t, s)
	c.onWait = func() {
		c.onWait = nil
		s.HandOff(send) // finds c busy: c must see send itself
	}
	read := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); read <- err }()
	var nc net.Conn
	select {
	case nc = <-sent:
	case <-time.After(5 * time.Second):
		client.Close() // ends the wait
		<-read
		t.Fatal("the connection was not handed off")
	}
	if err := <-read; err != io.EOF {
		t.Fatalf("Read after the hand-off: %v, want EOF", err)
	}
	// What was passed is the client's connection.
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	if _, err := io.ReadFull(nc, b); err != nil || b[0] != 'x' {
		t.Fatalf("read on the passed connection: %q, %v", b, err)
	}
}

// TestHandOffSkipsHijacked: a hijacked connection (WebSocket) read a byte
// at a time is not handed off: it is not between two requests.
func TestHandOffSkipsHijacked(t *testing.T) {
	t.Parallel()
	s := &Server{}
	c, client, send, sent := handOffPair(t, s)
	c.SetDeadline(time.Now().Add(5 * time.Second)) // what fasthttp's hijack does
	s.HandOff(send)
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if n, err := c.Read(b); n != 1 || err != nil || b[0] != 'x' {
		t.Fatalf("Read: %d %q, %v; want the byte sent", n, b[:n], err)
	}
	select {
	case <-sent:
		t.Fatal("a hijacked connection was handed off")
	default:
	}
}
