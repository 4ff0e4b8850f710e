package frontend

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection, the server end
// wrapped as the frontend's listener wraps it.
func tcpPair(t *testing.T) (server *clientConn, client net.Conn) {
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
	c, err := listener{ln, &Server{}}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); c.Close() })
	return c.(*clientConn), client
}

// connWatch sees, from below clientConn, what the server's connections
// do: when the wait for a request finds nothing to read (the connection is
// idle, its read-ahead buffer released), and how many reads brought data.
// Tests wait on these instead of sleeping for the server to get there.
type connWatch struct {
	net.Listener
	idle  atomic.Bool  // the last wait for a request found nothing yet
	reads atomic.Int64 // reads that returned data, either way
}

func (w *connWatch) Accept() (net.Conn, error) {
	c, err := w.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &watchedConn{Conn: c, w: w}, nil
}

// watchedConn counts the reads fasthttp makes through clientConn, and
// hands clientConn a RawConn that reports its waits for a request.
type watchedConn struct {
	net.Conn
	w *connWatch
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.w.reads.Add(1)
	}
	return n, err
}

func (c *watchedConn) SyscallConn() (syscall.RawConn, error) {
	raw, err := c.Conn.(syscall.Conn).SyscallConn()
	return watchedRaw{raw, c.w}, err
}

type watchedRaw struct {
	syscall.RawConn
	w *connWatch
}

// Read is clientConn's one-byte wait: f false means nothing was there to
// read and the wait goes on; true, that data (or an error) came.
func (r watchedRaw) Read(f func(fd uintptr) bool) error {
	return r.RawConn.Read(func(fd uintptr) bool {
		ok := f(fd)
		if ok {
			r.w.reads.Add(1)
		}
		r.w.idle.Store(!ok)
		return ok
	})
}

// startWatchedServer is startServer with a connWatch on its listener.
func startWatchedServer(t *testing.T, c Config) (string, *connWatch) {
	t.Helper()
	c.Logger = slog.New(slog.DiscardHandler)
	s := New(c)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &connWatch{Listener: ln}
	done := make(chan struct{})
	go func() { s.Serve(w); close(done) }()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), w
}

// waitUntil polls cond until it holds, failing the test after 5 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not in 5s", what)
		}
	}
}

// The one-byte read that waits for a request reads ahead; later reads see
// every byte once and in order, whatever their sizes.
func TestClientConnReadAhead(t *testing.T) {
	s, c := tcpPair(t)
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, size := range []int{1, 6, aheadSize - 1, aheadSize, aheadSize + 1, 3*aheadSize + 7} {
		want := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), size/36+1)[:size]
		go c.Write(want)
		var got []byte
		one := make([]byte, 1)
		if _, err := s.Read(one); err != nil {
			t.Fatalf("size %d: first byte: %v", size, err)
		}
		got = append(got, one[0])
		buf := make([]byte, 1000)
		for len(got) < size {
			n, err := s.Read(buf)
			if err != nil {
				t.Fatalf("size %d: after %d bytes: %v", size, len(got), err)
			}
			got = append(got, buf[:n]...)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("size %d: bytes differ", size)
		}
		if s.ahead != nil {
			t.Fatalf("size %d: read-ahead buffer kept after it was drained", size)
		}
	}
}

// A one-byte read past its deadline fails as net.Conn's does, so fasthttp
// still tells an idle timeout from other errors; EOF stays EOF.
func TestClientConnDeadlineAndEOF(t *testing.T) {
	s, c := tcpPair(t)
	s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := s.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, want a timeout net.Error", err)
	}
	if s.ahead != nil {
		t.Fatal("a waiting read holds a buffer")
	}
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.Close()
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want io.EOF", err)
	}
}

// Through the server: keep-alive requests after idle gaps, one with a head
// larger than the read-ahead buffer, all answered, each forwarded with the
// client's address.
func TestKeepAliveAfterIdle(t *testing.T) {
	up, messages := recorder("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	addr, watch := startWatchedServer(t, Config{Routes: []Route{{Name: "all", Forward: true, Upstream: up}}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	big := strings.Repeat("x", aheadSize+aheadSize/2) // under the 8 KiB header limit
	for i, extra := range []string{"", "X-Big: " + big + "\r\n", ""} {
		// Each request arrives once the connection is idle: its wait for a
		// request found nothing (the flag was cleared when the previous
		// request was read, before its response).
		waitUntil(t, fmt.Sprint("idle before request ", i), watch.idle.Load)
		fmt.Fprintf(c, "GET /r%d HTTP/1.1\r\nHost: a\r\n%s\r\n", i, extra)
		resp := make([]byte, 0, 256)
		buf := make([]byte, 256)
		for !bytes.HasSuffix(resp, []byte("ok")) {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("request %d: %v (read %q)", i, err, resp)
			}
			resp = append(resp, buf[:n]...)
		}
		if !bytes.HasPrefix(resp, []byte("HTTP/1.1 200 OK\r\n")) {
			t.Fatalf("request %d: %q", i, resp)
		}
	}
	msgs := messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages reached the upstream, want 3", len(msgs))
	}
	for i, m := range msgs {
		if !strings.HasPrefix(m, fmt.Sprintf("GET /r%d HTTP/1.1\r\n", i)) ||
			!strings.Contains(m, "\r\nX-Forwarded-For: 127.0.0.1\r\n") {
			t.Fatalf("message %d: %.200q", i, m)
		}
	}
	if !strings.Contains(msgs[1], big) {
		t.Fatal("the large header did not reach the upstream whole")
	}
}

// Deadlines are put on the socket lazily and re-armed coarsely, so timeouts
// may fire up to 1/16 early but never late: an idle keep-alive connection is
// closed about IdleTimeout after its last request, busy or not before.
func TestIdleTimeoutAfterBurst(t *testing.T) {
	const idle = 400 * time.Millisecond
	addr := startServer(t, Config{IdleTimeout: idle, Routes: []Route{{Name: "all", Upstream: reply("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")}}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	// The burst lasts half the idle timeout, back to back: a deadline not
	// re-armed by the later requests would close the connection at most
	// idle/2 after the last one, well before the lower bound below.
	first := time.Now()
	var last time.Time
	for i := 0; i == 0 || last.Sub(first) < idle/2; i++ {
		fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
		if n, err := c.Read(buf); err != nil || !bytes.HasSuffix(buf[:n], []byte("ok")) {
			t.Fatalf("request %d: %q, %v", i, buf[:n], err)
		}
		last = time.Now()
	}
	_, err = c.Read(buf)
	waited := time.Since(last)
	if err == nil {
		t.Fatal("read data from an idle connection")
	}
	if waited < idle-idle/16-10*time.Millisecond || waited > idle+time.Second {
		t.Fatalf("idle connection closed %v after its last request, want about %v", waited, idle)
	}
}

// A request whose head does not arrive in time is answered 408.
func TestReadTimeout(t *testing.T) {
	const read = 300 * time.Millisecond
	addr := startServer(t, Config{ReadTimeout: read, Routes: []Route{{Name: "all", Upstream: reply("HTTP/1.1 200 OK\r\n\r\n")}}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n") // no blank line: the head never ends
	got, _ := io.ReadAll(c)
	waited := time.Since(start)
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 408 ")) {
		t.Fatalf("slow request answered %.60q", got)
	}
	if waited < read-read/16-10*time.Millisecond || waited > read+time.Second {
		t.Fatalf("408 after %v, want about %v", waited, read)
	}
}

// After SetDeadline (fasthttp's hand-over of a hijacked connection) a
// deadline set by one goroutine interrupts a Read blocked in another.
func TestClientConnHandover(t *testing.T) {
	s, _ := tcpPair(t)
	s.SetReadDeadline(time.Now().Add(time.Hour)) // recorded only
	if err := s.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	// The deadline is set once the Read is inside the socket's Read, past
	// the point where clientConn puts a recorded deadline on the socket:
	// set earlier, it would fail the Read at once whether or not
	// SetReadDeadline reaches the socket after the hand-over.
	entered := make(chan struct{})
	s.Conn = readEntered{s.Conn, entered}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 16))
		errc <- err
	}()
	<-entered
	s.SetReadDeadline(time.Now())
	select {
	case err := <-errc:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("blocked read ended with %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a deadline set after the hand-over did not interrupt the blocked read")
	}
}

// readEntered closes entered as a Read begins.
type readEntered struct {
	net.Conn
	entered chan struct{}
}

func (r readEntered) Read(p []byte) (int, error) {
	close(r.entered)
	return r.Conn.Read(p)
}

// A request that trickles in a byte at a time is read whole: the first byte
// through the read-ahead, the rest through fasthttp's own reads.
func TestTrickledRequest(t *testing.T) {
	up, messages := recorder("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	addr, watch := startWatchedServer(t, Config{Routes: []Route{{Name: "all", Upstream: up}}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	for round := range 2 { // the second one after the connection went idle
		waitUntil(t, fmt.Sprint("idle before round ", round), watch.idle.Load)
		req := fmt.Sprintf("POST /t%d HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", round)
		for i := range len(req) {
			// Each byte is sent once the server has read every byte before
			// it, so that each takes a read of its own.
			before := watch.reads.Load()
			if _, err := c.Write([]byte{req[i]}); err != nil {
				t.Fatal(err)
			}
			if i < len(req)-1 {
				waitUntil(t, fmt.Sprintf("round %d: byte %d read", round, i), func() bool { return watch.reads.Load() > before })
			}
		}
		buf := make([]byte, 512)
		var got []byte
		for !bytes.HasSuffix(got, []byte("ok")) {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("round %d: %v after %q", round, err, got)
			}
			got = append(got, buf[:n]...)
		}
	}
	msgs := messages()
	if len(msgs) != 2 || !strings.HasSuffix(msgs[1], "\r\n\r\nhello") || !strings.HasPrefix(msgs[1], "POST /t1 ") {
		t.Fatalf("messages: %q", msgs)
	}
}
