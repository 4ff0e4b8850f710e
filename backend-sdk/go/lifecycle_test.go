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

	"github.com/nanogate/nanogate/session"
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
// connection, not in a queue of ours) until a handler returns, on every
// engine.
//
// That a third handler does not start cannot be seen by waiting for it,
// short of a sleep. The handlers are released one at a time instead, each
// release waiting for the start it allows, and at every start at most two
// may run: with all five requests sent up front, an engine without the bound
// starts them at once. The bound itself is asserted on the state that
// enforces it: here, for mangos, every REP context busy, so none is there to
// receive a third request; for package sp, its full semaphore
// (TestServerWorkers in internal/sp).
func TestConcurrencyLimit(t *testing.T) {
	const limit, requests = 2, 5
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			var inFlight, peak, started atomic.Int32
			release := make(chan struct{}, requests) // a token lets one handler return
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := inFlight.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				started.Add(1)
				<-release
				inFlight.Add(-1)
			})
			url := ep.url(t)
			s := &Server{Handler: h, Concurrency: limit}
			startServer(t, s, url)
			t.Cleanup(func() { close(release) }) // before Close: a failure must not hold handlers
			sock := dialClient(t, url)

			var wg sync.WaitGroup
			for range requests {
				wg.Go(func() {
					if _, err := exchange(sock, request("GET", "/", "", nil)); err != nil {
						t.Error(err)
					}
				})
			}
			waitFor(t, func() bool { return started.Load() >= limit })
			if m, ok := engineFor(s, url).(*mangosEngine); ok {
				if busy, all := busyLoops(m); busy != limit || all != limit {
					t.Errorf("%d of %d REP contexts busy, want %d of %d", busy, all, limit, limit)
				}
			}
			for k := 1; k <= requests; k++ {
				if p := peak.Load(); p > limit {
					t.Fatalf("%d handlers ran at once, want Concurrency = %d", p, limit)
				}
				release <- struct{}{}
				want := int32(min(limit+k, requests))
				waitFor(t, func() bool { return started.Load() >= want })
			}
			wg.Wait()
			if p := peak.Load(); p != limit {
				t.Errorf("%d handlers ran at once, want Concurrency = %d", p, limit)
			}
		})
	}
}

// TestStopSameOnEveryEngine pins the contract of Shutdown and Close on
// both engines (engine.go): mangos over inproc://, package sp over ipc://
// and tcp://. Before one interface sat in front of them, Close returned at
// once on inproc and waited for the handler on ipc.
//
// Each case holds one request in its handler, which returns only when the
// test releases it, so that "while a handler runs" is a fact and not a
// matter of timing.
func TestStopSameOnEveryEngine(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name+"/Shutdown", func(t *testing.T) { testShutdownWaits(t, ep) })
		t.Run(ep.name+"/Close", func(t *testing.T) { testCloseAtOnce(t, ep) })
	}
}

// testShutdownWaits: Shutdown waits for the handler, which keeps its
// context, its reply reaches the client, Serve and Shutdown return nil,
// the address is free again, and the server takes nothing more.
func testShutdownWaits(t *testing.T, ep endpoint) {
	c := holdOne(t, ep)
	shutdown := make(chan error, 1)
	go func() { shutdown <- c.s.Shutdown(context.Background()) }()
	waitFor(t, c.s.stopBegun) // else the handler could be released first

	// Shutdown returns once every engine reports its handlers done (the
	// channel its shutdown returns, the same for every call): that must not
	// be the case while this one is held.
	for _, e := range attachedEngines(c.s) {
		select {
		case <-e.shutdown():
			t.Fatalf("%T reports its handlers done while one runs", e)
		default:
		}
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned (%v) while a handler was running", err)
	default:
	}
	close(c.release)
	if err := <-c.handled; err != nil {
		t.Errorf("a graceful Shutdown ended the request's context: %v", err)
	}
	if r := <-c.replies; r.err != nil || r.Status != 200 || string(r.Body) != "slow reply" {
		t.Fatalf("in-flight reply lost or wrong: %+v", r)
	}
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := c.serveResult(t); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if err := c.s.Serve(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
	if err := c.s.Listen(ep.url(t)); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Listen after Shutdown = %v, want ErrServerClosed", err)
	}
	// Now closed: a new request fails, at once rather than at the
	// deadline, for a REQ context with OptionFailNoPeers (without it,
	// mangos waits for a peer to appear).
	ctx, err := c.sock.OpenContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	if err := ctx.SetOption(mangos.OptionFailNoPeers, true); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := ctx.Send(request("GET", "/late", "", nil)); err == nil {
		if _, err = ctx.Recv(); err == nil {
			t.Errorf("a request after Shutdown was served")
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a request after Shutdown failed after %v", d)
	}
	startServer(t, &Server{Handler: testMux()}, c.url) // the address is free
}

// testCloseAtOnce: Close returns while the handler is held, the request
// fails then (its reply will be dropped), the address is free at once, the
// handler's context is cancelled, and Serve waits for the handler.
func testCloseAtOnce(t *testing.T, ep endpoint) {
	c := holdOne(t, ep)
	closed := make(chan error, 1)
	go func() { closed <- c.s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Close waited for a handler") // it is held until release
	}
	// The request fails now, with its handler still held: not at its
	// deadline, and not with the reply the handler has yet to write.
	if r := <-c.replies; r.err == nil {
		t.Fatalf("answered after Close: %q", r.raw)
	} else if errors.Is(r.err, mangos.ErrRecvTimeout) {
		t.Fatalf("the request failed at its deadline, not when Close closed the socket: %v", r.err)
	}
	startServer(t, &Server{Handler: testMux()}, c.url) // the address is free
	select {
	case <-c.served:
		t.Fatal("Serve returned while a handler was running")
	default:
	}
	close(c.release)
	if err := <-c.handled; !errors.Is(err, context.Canceled) {
		t.Errorf("the request's context after Close: %v, want Canceled", err)
	}
	if err := c.serveResult(t); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// heldRequest is one request whose handler has started and waits for
// release, on a server that serves nothing else.
type heldRequest struct {
	s        *Server
	url      string
	sock     mangos.Socket
	release  chan struct{} // closed by the test: the handler returns
	handled  chan error    // the request's context error, as the handler returns
	replies  chan heldReply
	served   chan struct{} // closed when Serve has returned, with serveErr
	serveErr error
}

type heldReply struct {
	raw []byte
	err error
	session.Response
}

func holdOne(t *testing.T, ep endpoint) *heldRequest {
	t.Helper()
	c := &heldRequest{
		url: ep.url(t), release: make(chan struct{}), handled: make(chan error, 1),
		replies: make(chan heldReply, 1), served: make(chan struct{}),
	}
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-c.release
		err := r.Context().Err()
		fmt.Fprint(w, "slow reply")
		c.handled <- err
	})
	c.s = &Server{Handler: h}
	c.s.Logger, _ = newLogger()
	if err := c.s.Listen(c.url); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.serveErr = c.s.Serve()
		close(c.served)
	}()
	waitFor(t, func() bool {
		c.s.mu.Lock()
		defer c.s.mu.Unlock()
		return c.s.serving
	})
	t.Cleanup(func() {
		select {
		case <-c.release:
		default:
			close(c.release) // a failed test must not leave the handler held
		}
		_ = c.s.Close()
		_ = c.serveResult(t)
	})
	c.sock = dialClient(t, c.url)
	go func() {
		raw, err := exchange(c.sock, request("GET", "/slow", "", nil))
		r := heldReply{raw: raw, err: err}
		if err == nil {
			r.err = r.Parse(raw, false)
		}
		c.replies <- r
	}()
	select {
	case <-started:
	case <-time.After(ioTimeout):
		t.Fatal("the handler did not start")
	}
	return c
}

// serveResult waits for Serve to return, at most ioTimeout.
func (c *heldRequest) serveResult(t *testing.T) error {
	select {
	case <-c.served:
		return c.serveErr
	case <-time.After(ioTimeout):
		return errors.New("Serve did not return")
	}
}

// attachedEngines lists s's engines.
func attachedEngines(s *Server) []engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attached()
}

// engineFor returns the engine that serves url.
func engineFor(s *Server, url string) engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, _ := s.engineLocked(url)
	return e
}

// busyLoops counts the REP contexts of m that hold a request, of all.
func busyLoops(m *mangosEngine) (busy, all int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.loops {
		if l.state.Load() == loopBusy {
			busy++
		}
	}
	return busy, len(m.loops)
}

// TestShutdownDeadline: when Shutdown's context ends first, the handlers'
// contexts are cancelled, Shutdown reports the context's error, and Serve
// still returns nil once the handler has returned; on every engine. The
// handler returns only when its context ends, so Shutdown cannot finish
// first by luck.
func TestShutdownDeadline(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			started := make(chan struct{})
			cancelled := make(chan error, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(started)
				<-r.Context().Done()
				cancelled <- r.Context().Err()
			})
			url := ep.url(t)
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
		})
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
// and workers join), even when the worker starts first, and dials again
// when its gateway goes away and comes back.
//
// A first connection attempt that fails while nobody listens has no event
// to wait for (neither engine reports one), and the test used to sleep for
// it, passing the same if no attempt was made. The redial is now forced: a
// first gateway waits for the worker's connection and closes, and only a
// second one, bound to the same address after, can answer.
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

			first := newClient(t)
			attached := make(chan struct{}, 1)
			first.SetPipeEventHook(func(ev mangos.PipeEvent, _ mangos.Pipe) {
				if ev == mangos.PipeEventAttached {
					select {
					case attached <- struct{}{}:
					default:
					}
				}
			})
			if err := first.Listen(url); err != nil {
				t.Fatal(err)
			}
			select {
			case <-attached:
			case <-time.After(ioTimeout):
				t.Fatal("the worker did not connect to its gateway")
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}

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
