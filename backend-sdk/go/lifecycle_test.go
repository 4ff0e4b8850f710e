package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"
)

// TestConcurrent proves that 64 requests are served at once: each handler
// blocks until all 64 have arrived, which never happens if they are served
// one after another (each then answers 503 after its wait).
func TestConcurrent(t *testing.T) {
	const n = 64
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			var arrived atomic.Int32
			all := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if arrived.Add(1) == n {
					close(all)
				}
				select {
				case <-all:
					fmt.Fprint(w, r.URL.Query().Get("i"))
				case <-time.After(ioTimeout / 2):
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			})
			url := ep.url(t)
			startServer(t, &Server{Handler: h}, url) // Concurrency zero: 64
			sock := dialClient(t, url)

			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					raw, err := exchange(sock, request("GET", fmt.Sprint("/?i=", i), "", nil))
					if err != nil {
						t.Error(err)
						return
					}
					r := parseReply(t, raw, false)
					if r.Status != 200 || string(r.Body) != fmt.Sprint(i) {
						t.Errorf("request %d: %d %q", i, r.Status, r.Body)
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestConcurrencyLimit: with Concurrency 2, a third request waits (in the
// connection, not in a queue of ours) until a handler returns.
func TestConcurrencyLimit(t *testing.T) {
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
	})
	url := tcpEndpoint.url(t)
	startServer(t, &Server{Handler: h, Concurrency: 2}, url)
	sock := dialClient(t, url)

	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := exchange(sock, request("GET", "/", "", nil)); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, func() bool { return inFlight.Load() == 2 })
	time.Sleep(100 * time.Millisecond) // room for a third to arrive, which it must not
	if p := peak.Load(); p != 2 {
		t.Errorf("%d handlers ran at once, want Concurrency = 2", p)
	}
	close(release)
	wg.Wait()
}

// TestShutdownWaitsForInFlight: Shutdown waits for a slow handler, its
// reply reaches the client, and Serve and Shutdown both return nil.
func TestShutdownWaitsForInFlight(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			started, release := make(chan struct{}), make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(started)
				<-release
				if r.Context().Err() != nil {
					http.Error(w, "context cancelled by a graceful shutdown", 500)
					return
				}
				fmt.Fprint(w, "slow reply")
			})
			url := ep.url(t)
			s := &Server{Handler: h}
			s.Logger, _ = newLogger()
			if err := s.Listen(url); err != nil {
				t.Fatal(err)
			}
			serve := serveInBackground(t, s)
			sock := dialClient(t, url)

			replies := make(chan *reply, 1)
			go func() {
				raw, err := exchange(sock, request("GET", "/slow", "", nil))
				if err != nil {
					t.Error(err)
					replies <- nil
					return
				}
				replies <- parseReply(t, raw, false)
			}()
			<-started
			shutdown := make(chan error, 1)
			go func() { shutdown <- s.Shutdown(context.Background()) }()
			select {
			case err := <-shutdown:
				t.Fatalf("Shutdown returned (%v) while a handler was running", err)
			case <-time.After(100 * time.Millisecond):
			}
			close(release)
			if r := <-replies; r == nil || r.Status != 200 || string(r.Body) != "slow reply" {
				t.Fatalf("in-flight reply lost or wrong: %+v", r)
			}
			if err := <-shutdown; err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := serve(); err != nil {
				t.Errorf("Serve after Shutdown: %v", err)
			}
			if err := s.Serve(); !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
			}
			if err := s.Listen(ep.url(t)); !errors.Is(err, ErrServerClosed) {
				t.Errorf("Listen after Shutdown = %v, want ErrServerClosed", err)
			}
			// Now closed: a new request fails, at once rather than at the
			// deadline, for a REQ context with OptionFailNoPeers (without
			// it, mangos waits for a peer to appear).
			c, err := sock.OpenContext()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.SetOption(mangos.OptionFailNoPeers, true); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := c.Send(request("GET", "/late", "", nil)); err == nil {
				_, err = c.Recv()
				if err == nil {
					t.Errorf("a request after Shutdown was served")
				}
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("a request after Shutdown failed after %v", d)
			}
		})
	}
}

// TestShutdownDeadline: when Shutdown's context ends first, the handlers'
// contexts are cancelled, Shutdown reports the context's error, and Serve
// still returns nil once the handler has returned.
func TestShutdownDeadline(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		cancelled <- r.Context().Err()
	})
	url := tcpEndpoint.url(t)
	s := &Server{Handler: h}
	s.Logger, _ = newLogger()
	if err := s.Listen(url); err != nil {
		t.Fatal(err)
	}
	serve := serveInBackground(t, s)
	sock := dialClient(t, url)
	go func() { _, _ = exchange(sock, request("GET", "/", "", nil)) }()
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("request context ended with %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("the request context was not cancelled")
	}
	if err := serve(); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestShutdownIdle: a server with nothing in flight stops at once, and one
// that never served stops too.
func TestShutdownIdle(t *testing.T) {
	url := inprocEndpoint.url(t)
	s := &Server{Handler: testMux()}
	startServer(t, s, url)
	start := time.Now()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > replyLinger {
		t.Errorf("an idle Shutdown took %v", d)
	}
	var never Server
	if err := never.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown of a zero Server: %v", err)
	}
	if err := never.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}
	if err := never.Serve(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve of a stopped zero Server = %v", err)
	}
}

// TestDial: the worker dials a REQ socket that listens (the gateway binds
// and workers join), even when the worker starts first.
func TestDial(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			url := ep.url(t)
			s := &Server{Handler: testMux()}
			s.Logger, _ = newLogger()
			if err := s.Dial(url); err != nil { // nobody listens yet
				t.Fatal(err)
			}
			serveInBackground(t, s)
			time.Sleep(20 * time.Millisecond) // let a first connection attempt fail

			sock := newClient(t)
			if err := sock.Listen(url); err != nil {
				t.Fatal(err)
			}
			r := roundTrip(t, sock, request("GET", "/info", "", nil))
			if r.Status != 200 {
				t.Fatalf("status %d: %q", r.Status, r.raw)
			}
			testSetCookie(t, sock)
		})
	}
}

// TestAndServeErrors: the one-line helpers report an endpoint they cannot
// use instead of serving nothing.
func TestAndServeErrors(t *testing.T) {
	if err := ListenAndServe("bogus://x", testMux()); err == nil {
		t.Error("ListenAndServe on an unknown transport returned nil")
	}
	if err := DialAndServe("tcp://no-port", testMux()); err == nil {
		t.Error("DialAndServe to an invalid address returned nil")
	}
	url := "tcp://127.0.0.1:" + freePort(t)
	s := &Server{Handler: testMux()}
	startServer(t, s, url)
	if err := ListenAndServe(url, testMux()); err == nil {
		t.Error("ListenAndServe on an address in use returned nil")
	}
}

// TestDialAndServe runs the one-line dialing helper against a REQ socket
// that listens. Its server cannot be stopped, so it serves until the test
// binary exits; Server.Dial is what it wraps, tested above.
func TestDialAndServe(t *testing.T) {
	url := tcpEndpoint.url(t)
	sock := newClient(t)
	if err := sock.Listen(url); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- DialAndServe(url, testMux()) }()
	r := roundTrip(t, sock, request("GET", "/status/201", "", nil))
	if r.Status != 201 {
		t.Errorf("status %d", r.Status)
	}
	select {
	case err := <-errc:
		t.Errorf("DialAndServe returned %v", err)
	default:
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLoopsOnlyForMangos: a worker on ipc:// parks no goroutine per unit of
// Concurrency (each would be scanned by every garbage collection); a mangos
// endpoint attached while serving starts its loops and is served.
func TestLoopsOnlyForMangos(t *testing.T) {
	before := runtime.NumGoroutine()
	s := &Server{Handler: testMux(), Concurrency: 1024}
	url := ipcEndpoint.url(t)
	startServer(t, s, url)
	sock := dialClient(t, url)
	if _, err := exchange(sock, request("GET", "/info", "", nil)); err != nil {
		t.Fatal(err)
	}
	if n := runtime.NumGoroutine() - before; n > 50 {
		t.Fatalf("%d goroutines for an ipc:// worker with Concurrency 1024", n)
	}

	in := inprocEndpoint.url(t)
	if err := s.Listen(in); err != nil {
		t.Fatal(err)
	}
	raw, err := exchange(dialClient(t, in), request("GET", "/info", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	if r := parseReply(t, raw, false); r.Status != 200 {
		t.Fatalf("inproc after Serve: %d %q", r.Status, r.Body)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
