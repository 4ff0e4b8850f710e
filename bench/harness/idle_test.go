package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nanogate/nanogate/bench/contenders/payload"
)

// Idle connections open from other loopback sources, count as open while
// the server holds them and as closed once it lets them go.
func TestOpenIdleAndCountOpen(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, payload.Hello)
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	c, err := openOne(context.Background(), addr, net.IPv4(127, 0, 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.LocalAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.3" {
		t.Errorf("source %s, want 127.0.0.3", got)
	}
	conns, open := openIdle(context.Background(), addr, 20)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if len(conns) != 20 || open.errors != 0 || open.sources != 1 {
		t.Fatalf("held %d, %+v", len(conns), open)
	}
	all := append(conns, c)
	if n := countOpen(all); n != 21 {
		t.Errorf("countOpen = %d, want 21", n)
	}
	srv.CloseClientConnections()
	deadline := time.Now().Add(2 * time.Second)
	for countOpen(all) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := countOpen(all); n != 0 {
		t.Errorf("countOpen after the server closed them = %d, want 0", n)
	}
}

func TestOpenOneChecksTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	if c, err := openOne(context.Background(), srv.Listener.Addr().String(), net.IPv4(127, 0, 0, 2)); err == nil {
		c.Close()
		t.Error("a 503 counted as an idle connection")
	}
}
