package main

import (
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/nanogate/nanogate/bench/contenders/payload"
)

func TestLatencyPercentiles(t *testing.T) {
	ms := time.Millisecond
	var lats []time.Duration
	for i := 100; i >= 1; i-- { // 1..100 ms, out of order
		lats = append(lats, time.Duration(i)*ms)
	}
	if p50, p99 := latencyPercentiles(lats); p50 != 50 || p99 != 99 {
		t.Errorf("1..100 ms: p50 %v, p99 %v; want 50, 99 (nearest rank)", p50, p99)
	}
	if p50, p99 := latencyPercentiles([]time.Duration{3 * ms}); p50 != 3 || p99 != 3 {
		t.Errorf("one sample: %v %v", p50, p99)
	}
	if p50, p99 := latencyPercentiles(nil); p50 != 0 || p99 != 0 {
		t.Errorf("no sample: %v %v", p50, p99)
	}
	if lats[0] != 100*ms {
		t.Error("latencyPercentiles sorted its argument")
	}
}

// wsServer serves a WebSocket echo on payload.WSPath, through edit, which
// may change a message's type and bytes.
func wsServer(t *testing.T, edit func(mt int, p []byte) (int, []byte)) *httptest.Server {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != payload.WSPath {
			http.NotFound(w, r)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			mt, p = edit(mt, p)
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func keep(mt int, p []byte) (int, []byte) { return mt, p }

func TestRunWSLoad(t *testing.T) {
	srv := wsServer(t, keep)
	addr := srv.Listener.Addr().String()
	r, err := runWSLoad(context.Background(), "ws://"+addr+payload.WSPath, 8, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests < 8 || r.SocketErrs != 0 || r.Non2xx != 0 {
		t.Fatalf("%+v", r)
	}
	if r.Seconds < 0.3 || math.Abs(r.RPS-float64(r.Requests)/r.Seconds) > 1e-6 || r.P50ms <= 0 || r.P99ms < r.P50ms {
		t.Errorf("%+v", r)
	}
	if !strings.Contains(r.Raw, "8 of 8 connections open") {
		t.Errorf("raw: %s", r.Raw)
	}

	// An echo that comes back binary is a bad echo, every time.
	bin := wsServer(t, func(_ int, p []byte) (int, []byte) { return websocket.BinaryMessage, p })
	r, err = runWSLoad(context.Background(), "ws://"+bin.Listener.Addr().String()+payload.WSPath, 2, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || r.Non2xx != r.Requests || !strings.Contains(r.Raw, "first error: echo of type 2") {
		t.Errorf("binary echoes: %+v", r)
	}

	// Nothing listening: an error, not a rate of zero.
	if _, err := runWSLoad(context.Background(), "ws://"+closedAddr(t)+payload.WSPath, 2, 100*time.Millisecond); err == nil {
		t.Error("no error without a server")
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// The ws probe wants both message types back as they were sent.
func TestProbeEcho(t *testing.T) {
	p := scenarios["ws"].probe
	if err := p.do(context.Background(), wsServer(t, keep).Listener.Addr().String()); err != nil {
		t.Errorf("echo server: %v", err)
	}
	text := wsServer(t, func(_ int, p []byte) (int, []byte) { return websocket.TextMessage, p })
	if err := p.do(context.Background(), text.Listener.Addr().String()); err == nil || !strings.Contains(err.Error(), "echo of type 1") {
		t.Errorf("server that turns binary into text: %v", err)
	}
	short := wsServer(t, func(mt int, p []byte) (int, []byte) { return mt, p[:len(p)-1] })
	if err := p.do(context.Background(), short.Listener.Addr().String()); err == nil {
		t.Error("a short echo passed")
	}
}

// A held WebSocket counts as open while the server keeps it, and as
// closed once the server closes it.
func TestOpenWSAndCountOpen(t *testing.T) {
	release := make(chan struct{})
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		mt, p, err := c.ReadMessage()
		if err == nil {
			c.WriteMessage(mt, p)
		}
		<-release
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"))
	}))
	defer srv.Close()
	conns, open := openIdle(context.Background(), srv.Listener.Addr().String(), 10, 4, payload.WSPath)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if len(conns) != 10 || open.errors != 0 {
		t.Fatalf("held %d, %+v", len(conns), open)
	}
	if got := conns[0].LocalAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.4" {
		t.Errorf("source %s, want 127.0.0.4", got)
	}
	if n := countOpen(conns); n != 10 {
		t.Errorf("countOpen = %d, want 10", n)
	}
	close(release)
	deadline := time.Now().Add(2 * time.Second)
	for countOpen(conns) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := countOpen(conns); n != 0 {
		t.Errorf("countOpen after the server's close = %d, want 0", n)
	}
}

// The ws upgrade refused (a plain HTTP server) is an open error.
func TestOpenWSRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, payload.Hello)
	}))
	defer srv.Close()
	if c, err := openWS(context.Background(), srv.Listener.Addr().String(), payload.WSPath, net.IPv4(127, 0, 0, 2)); err == nil {
		c.Close()
		t.Error("a plain HTTP answer counted as a WebSocket")
	}
}
