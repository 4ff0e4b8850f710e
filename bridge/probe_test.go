package bridge

import (
	"bytes"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanogate/nanogate/internal/sp"
)

// TestProbeEjectsAndRestores: a worker that declares itself unhealthy on
// its health path is ejected by the probes alone, before any client
// request, and is back as soon as its probe passes again, long before its
// ejection time would have ended.
func TestProbeEjectsAndRestores(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	good, sick := ipcURL(t, "good"), ipcURL(t, "sick")
	var sickOK atomic.Bool
	var probes atomic.Int32
	serve := func(url string, healthy func() bool) {
		srv := sp.NewServer(sp.ServerConfig{Concurrency: 16, Logger: quiet, Handler: func(dst, req []byte) []byte {
			if bytes.HasPrefix(req, []byte("GET /healthz ")) {
				probes.Add(1)
				if !healthy() {
					return append(dst, "HTTP/1.1 503 Service Unavailable\r\n\r\n"...)
				}
			}
			return append(dst, "HTTP/1.1 200 OK\r\n\r\nok"...)
		}})
		if err := srv.Listen(url); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
	}
	serve(good, func() bool { return true })
	serve(sick, sickOK.Load)

	p, err := NewPool(Config{Name: "probe", Timeout: time.Second, Logger: quiet,
		Health: Health{Failures: 2, EjectFor: time.Minute},
		Probe: Probe{Msg: []byte("GET /healthz HTTP/1.1\r\n\r\n"), Interval: 10 * time.Millisecond,
			OK: func(r []byte) bool { return bytes.HasPrefix(r, []byte("HTTP/1.1 2")) }},
		Endpoints: []Endpoint{{URL: good}, {URL: sick}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitWorkers(t, p, good, 1)
	waitWorkers(t, p, sick, 1)

	ejected := func(url string) bool {
		for _, s := range p.Stats() {
			if s.URL == url {
				return s.Ejected
			}
		}
		t.Fatalf("no endpoint %s", url)
		return false
	}
	waitFor(t, "the sick endpoint ejected by probes", func() bool { return ejected(sick) })
	if ejected(good) {
		t.Fatal("the good endpoint was ejected")
	}
	// While it sits out, every client request goes to the good one.
	for range 20 {
		reply, err := p.RoundTrip(nil, []byte("GET / HTTP/1.1\r\n\r\n"), true)
		if err != nil || string(reply) != "HTTP/1.1 200 OK\r\n\r\nok" {
			t.Fatalf("reply %q, %v", reply, err)
		}
	}
	for _, s := range p.Stats() {
		if s.URL == sick && s.Requests != 0 {
			t.Fatalf("the ejected endpoint got %d client requests", s.Requests)
		}
	}
	sickOK.Store(true)
	waitFor(t, "the mended endpoint back before its minute", func() bool { return !ejected(sick) })
	if probes.Load() == 0 {
		t.Fatal("no probe reached a worker")
	}
}

// waitFor polls cond until it holds, failing after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCloseEndsProbeInFlight: closing a pool whose probe waits on a silent
// worker returns at once. Close waited for the probe, so for up to the
// route's timeout (a shutdown or a reload held by the very worker the
// probe exists to catch).
func TestCloseEndsProbeInFlight(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	url := ipcURL(t, "silent")
	probed := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := sp.NewServer(sp.ServerConfig{Concurrency: 4, Logger: quiet, Handler: func(dst, req []byte) []byte {
		select {
		case probed <- struct{}{}:
		default:
		}
		<-release // silent until the test ends
		return append(dst, "HTTP/1.1 200 OK\r\n\r\n"...)
	}})
	if err := srv.Listen(url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	t.Cleanup(func() { close(release) }) // runs first
	p, err := NewPool(Config{Name: "silent", Timeout: 20 * time.Second, Logger: quiet,
		Probe:     Probe{Msg: []byte("GET /healthz HTTP/1.1\r\n\r\n"), Interval: 10 * time.Millisecond},
		Endpoints: []Endpoint{{URL: url}}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-probed:
	case <-time.After(10 * time.Second):
		p.Close()
		t.Fatal("no probe reached the worker")
	}
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the probe in flight")
	}
}
