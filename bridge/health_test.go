package bridge

import (
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanogate/nanogate/internal/sp"
)

// TestEjection: of three endpoints, one answers garbage and one never
// answers; both are ejected after their failures, the good one takes the
// traffic, and an ejected one comes back on probation when its time is up.
func TestEjection(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	serve := func(url string, h sp.Handler) {
		srv := sp.NewServer(sp.ServerConfig{Handler: h, Concurrency: 64, Logger: quiet})
		if err := srv.Listen(url); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
	}
	good, garbage, silent := ipcURL(t, "good"), ipcURL(t, "garbage"), ipcURL(t, "silent")
	var garbageOK atomic.Bool // once set, the garbage worker mends its ways
	serve(good, func(dst, req []byte) []byte { return append(dst, "HTTP/1.1 200 OK\r\n\r\ngood"...) })
	serve(garbage, func(dst, req []byte) []byte {
		if garbageOK.Load() {
			return append(dst, "HTTP/1.1 200 OK\r\n\r\nmended"...)
		}
		return append(dst, "not http"...)
	})
	block := make(chan struct{})
	serve(silent, func(dst, req []byte) []byte { <-block; return dst })
	t.Cleanup(func() { close(block) }) // before the silent server's Shutdown (cleanups run last first)

	p, err := NewPool(Config{Name: "h", Timeout: 50 * time.Millisecond, Logger: quiet,
		Health:    Health{Failures: 3, EjectFor: 300 * time.Millisecond},
		Check:     func(r []byte) bool { return strings.HasPrefix(string(r), "HTTP/1.") },
		Endpoints: []Endpoint{{URL: good}, {URL: garbage}, {URL: silent}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, u := range []string{good, garbage, silent} {
		waitWorkers(t, p, u, 1)
	}
	// Serially, so that least-outstanding choice rotates over the three.
	for range 30 {
		p.RoundTrip(nil, []byte("x"), false)
	}
	stats := func() map[string]EndpointStats {
		out := map[string]EndpointStats{}
		for _, s := range p.Stats() {
			out[s.URL] = s
		}
		return out
	}
	st := stats()
	if !st[garbage].Ejected || !st[silent].Ejected || st[good].Ejected {
		t.Fatalf("after 30 requests: %+v", st)
	}
	// While they sit out, every request goes to the good one.
	before := st[good].Requests
	for range 10 {
		reply, err := p.RoundTrip(nil, []byte("x"), false)
		if err != nil || string(reply) != "HTTP/1.1 200 OK\r\n\r\ngood" {
			t.Fatalf("%q %v", reply, err)
		}
	}
	if got := stats()[good].Requests - before; got != 10 {
		t.Fatalf("good endpoint took %d of 10 requests while the others sat out", got)
	}
	// The garbage worker mends; after its ejection it is probed and stays.
	garbageOK.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for stats()[garbage].Ejected || stats()[garbage].Requests == st[garbage].Requests {
		if time.Now().After(deadline) {
			t.Fatalf("garbage endpoint never probed back: %+v", stats()[garbage])
		}
		p.RoundTrip(nil, []byte("x"), false)
		time.Sleep(10 * time.Millisecond)
	}
	if s := stats()[garbage]; s.Ejected || s.Ejections != 1 {
		t.Fatalf("mended endpoint: %+v", s)
	}
}

// TestAllEjectedStillServes: when every endpoint is ejected, they serve
// anyway rather than answer 503 to everything.
func TestAllEjectedStillServes(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	url := ipcURL(t, "only")
	srv := sp.NewServer(sp.ServerConfig{Handler: func(dst, req []byte) []byte { return append(dst, "junk"...) }, Logger: quiet})
	if err := srv.Listen(url); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	p, err := NewPool(Config{Name: "one", Logger: quiet, Health: Health{Failures: 1, EjectFor: time.Hour},
		Check: func(r []byte) bool { return false }, Endpoints: []Endpoint{{URL: url}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitWorkers(t, p, url, 1)
	p.RoundTrip(nil, []byte("x"), false)
	if !p.Stats()[0].Ejected {
		t.Fatal("not ejected")
	}
	if reply, err := p.RoundTrip(nil, []byte("x"), false); err != nil || string(reply) != "junk" {
		t.Fatalf("the only endpoint, ejected: %q %v", reply, err)
	}
}
