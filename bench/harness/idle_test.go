package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
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
	conns, open := openIdle(context.Background(), addr, 20, 2, "")
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

// A holder reports what it opened, answers "count", and closes its
// connections when its input ends.
func TestHold(t *testing.T) {
	var live atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, payload.Hello)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			live.Add(1)
		case http.StateClosed, http.StateHijacked:
			live.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()

	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- hold(context.Background(), inR, outW, srv.Listener.Addr().String(), 30, 5, "") }()
	dec := json.NewDecoder(outR)
	var first, count holdReport
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if first.Held != 30 || first.Errors != 0 || first.Sources != 1 {
		t.Fatalf("first report %+v", first)
	}
	io.WriteString(inW, "count\n")
	if err := dec.Decode(&count); err != nil || count.Open != 30 {
		t.Fatalf("count: %+v %v", count, err)
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for live.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := live.Load(); n != 0 {
		t.Errorf("%d connections still open on the server after the holder ended", n)
	}
}

func TestShares(t *testing.T) {
	for _, c := range []struct{ n, limit, shares, procs int }{
		{10000, 20000, 1, 1},
		{18976, 20000, 1, 1},
		{18977, 20000, 2, 2},
		{50000, 20000, 3, 4},
		{100000, 20000, 6, 7},
		{100000, 1 << 20, 1, 1},
	} {
		s := holdShares(c.n, c.limit)
		if len(s) != c.shares || sum(s) != c.n || slices.Max(s)-slices.Min(s) > 1 || slices.Max(s) > c.limit-idleFDMargin {
			t.Errorf("holdShares(%d, %d) = %v, want %d even shares", c.n, c.limit, s, c.shares)
		}
		if p := frontProcs(c.n, c.limit); p != c.procs {
			t.Errorf("frontProcs(%d, %d) = %d, want %d", c.n, c.limit, p, c.procs)
		}
	}
}

func sum(s []int) int {
	n := 0
	for _, x := range s {
		n += x
	}
	return n
}
