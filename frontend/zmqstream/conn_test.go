//go:build !nozmq

package zmqstream

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func listen(t *testing.T, cfg Config) *Listener {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	l, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop() })
	return l
}

// pair dials l and returns the client's side and the server's.
func pair(t *testing.T, l *Listener) (net.Conn, net.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server := accept(t, l)
	t.Cleanup(func() { server.Close() })
	return client, server
}

func accept(t *testing.T, l *Listener) net.Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := l.Accept(); ch <- res{c, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted within 5s")
		return nil
	}
}

// Bytes both ways, the client's address, and a Close that lets what was
// written arrive whole before the client sees the end.
func TestConnRoundTrip(t *testing.T) {
	l := listen(t, Config{})
	client, server := pair(t, l)
	if ip := server.RemoteAddr().(*net.TCPAddr).IP.String(); ip != "127.0.0.1" {
		t.Fatalf("RemoteAddr %v", server.RemoteAddr())
	}
	if server.LocalAddr().String() != l.Addr().String() {
		t.Fatalf("LocalAddr %v, listener %v", server.LocalAddr(), l.Addr())
	}
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := server.Read(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("server read %q, %v", buf[:n], err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: many chunks and a full SndHWM
	go func() {
		server.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := server.Write(big); err != nil {
			t.Error(err)
		}
		server.Close()
	}()
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("client read %d bytes (equal %v), %v", len(got), bytes.Equal(got, big), err)
	}
}

// A client that leaves: what it sent is read, then io.EOF; writes fail.
func TestConnPeerGone(t *testing.T) {
	l := listen(t, Config{})
	client, server := pair(t, l)
	client.Write([]byte("last words"))
	client.Close()
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(server)
	if err != nil || string(got) != "last words" {
		t.Fatalf("read %q, %v", got, err)
	}
	if _, err := server.Write([]byte("x")); err == nil {
		t.Fatal("write to a gone peer succeeded")
	}
	if s := l.Stats(); s.Open != 0 || s.Accepted != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// Read deadlines time out as a TCP connection's do, and a deadline set
// while a Read waits applies to that Read.
func TestConnReadDeadline(t *testing.T) {
	l := listen(t, Config{})
	_, server := pair(t, l)
	server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := server.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	server.SetReadDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() { _, err := server.Read(make([]byte, 1)); errc <- err }()
	server.SetReadDeadline(time.Now().Add(-time.Second)) // wakes the waiting Read
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a deadline set during a Read did not end it")
	}
}

// A client that sends more than MaxInbound while the server reads nothing
// is cut and counted, and the server's Read fails.
func TestConnInboundOverflow(t *testing.T) {
	l := listen(t, Config{MaxInbound: 64 << 10})
	client, server := pair(t, l)
	go client.Write(make([]byte, 1<<20)) // fails once the gateway cuts it
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(client); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client: %v", err)
	}
	if _, err := io.ReadAll(server); err == nil {
		t.Fatal("server read a cut connection to its end without an error")
	}
	if s := l.Stats(); s.Overflow != 1 || s.Open != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A client that does not read: Write waits once MaxOutbound is queued
// and libzmq holds SndHWM chunks, and fails at its deadline; what was
// written still reaches the client when it reads.
func TestConnWriteBackpressure(t *testing.T) {
	l := listen(t, Config{MaxOutbound: 64 << 10, SndHWM: 4})
	client, server := pair(t, l)
	chunk := bytes.Repeat([]byte("z"), 64<<10)
	written := 0
	// Write with short deadlines until one fails while libzmq refuses
	// sends at SndHWM (the kernel's buffers and libzmq's are full): a
	// deadline passed before that only means the loop was slow.
	for end := time.Now().Add(30 * time.Second); ; {
		server.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := server.Write(chunk)
		written += n
		if errors.Is(err, os.ErrDeadlineExceeded) && l.Stats().Again > 0 {
			break
		}
		if (err != nil && !errors.Is(err, os.ErrDeadlineExceeded)) || time.Now().After(end) {
			t.Fatalf("after %d bytes to a client that does not read: %v, %+v", written, err, l.Stats())
		}
	}
	server.Close()
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.Copy(io.Discard, client)
	if err != nil || got != int64(written) {
		t.Fatalf("client read %d of %d bytes: %v", got, written, err)
	}
}

// Close stops accepting: Accept fails, and a client that connects after
// it is closed at once.
func TestListenerClose(t *testing.T) {
	l := listen(t, Config{})
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || (err != io.EOF && !errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("client of a closed listener read %d, %v", n, err)
	}
	if s := l.Stats(); s.Refused != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// fasthttp serves the listener as it would a TCP one: keep-alive, and
// pipelined requests answered in order.
func TestFasthttpPipelining(t *testing.T) {
	l := listen(t, Config{})
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if ctx.IsPost() {
			ctx.SetBody(ctx.PostBody())
			return
		}
		ctx.SetBodyString(string(ctx.Path()))
	}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		l.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		srv.Shutdown()
	})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var reqs strings.Builder
	const n = 50
	for i := range n {
		fmt.Fprintf(&reqs, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	reqs.WriteString("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	if _, err := c.Write([]byte(reqs.String())); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	var resp fasthttp.Response
	for i := range n + 1 {
		if err := resp.Read(br); err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		want := fmt.Sprintf("/%d", i)
		if i == n {
			want = "abcde"
		}
		if string(resp.Body()) != want {
			t.Fatalf("response %d: %q, want %q", i, resp.Body(), want)
		}
	}
}

// A lingering close (after a 413) keeps taking what the client sends, so
// that the client reads the answer rather than a reset, and closes after
// LingerCloseBytes of it, or after LingerCloseTime.
func TestConnLingeringClose(t *testing.T) {
	l := listen(t, Config{LingerCloseBytes: 256 << 10, LingerCloseTime: time.Hour})
	client, server := pair(t, l)
	server.Write([]byte("HTTP/1.1 413 Request Entity Too Large\r\n\r\n"))
	server.(interface{ LingerOnClose() }).LingerOnClose()
	server.Close()
	errc := make(chan error, 1)
	go func() { // the rest of an upload the gateway refused
		_, err := client.Write(make([]byte, 1<<20))
		errc <- err
	}()
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(client)
	// The end is a FIN, or a reset if the client's bytes were still
	// arriving: either comes after the 413.
	if (err != nil && !errors.Is(err, syscall.ECONNRESET)) || !strings.HasPrefix(string(got), "HTTP/1.1 413") {
		t.Fatalf("client read %q, %v; want the 413 then the end", got, err)
	}
	<-errc // ended by the close, either way

	l2 := listen(t, Config{LingerCloseTime: 50 * time.Millisecond})
	client, server = pair(t, l2)
	server.(interface{ LingerOnClose() }).LingerOnClose()
	server.Close()
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("a silent client after LingerCloseTime: read %d, %v; want EOF", n, err)
	}
}

// MaxInboundTotal bounds the unread bytes of all connections together: a
// connection whose bytes would pass it is cut, the others live on.
func TestConnInboundTotal(t *testing.T) {
	l := listen(t, Config{MaxInbound: 1 << 20, MaxInboundTotal: 128 << 10})
	a, sa := pair(t, l)
	if _, err := a.Write(make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.Stats().Inbound < 100<<10 { // all of a's bytes wait in the gateway
		if time.Now().After(deadline) {
			t.Fatalf("a's 100 KiB never arrived: %+v", l.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	b, sb := pair(t, l)
	go b.Write(make([]byte, 100<<10))
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(b); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("b: %v", err)
	}
	if _, err := io.ReadAll(sb); err == nil {
		t.Fatal("b's server side read to its end without an error")
	}
	sa.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.ReadFull(sa, make([]byte, 100<<10)); err != nil {
		t.Fatalf("a read %d bytes: %v", n, err)
	}
	if s := l.Stats(); s.Overflow != 1 || s.Inbound != 0 {
		t.Fatalf("stats %+v", s)
	}
}
