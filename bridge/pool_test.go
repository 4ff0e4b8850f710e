package bridge

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol/rep"
)

// repWorker is a real REP socket on a real transport, answering with reply
// (or never, when reply returns nil).
type repWorker struct {
	sock  mangos.Socket
	calls atomic.Int32
	wg    sync.WaitGroup
}

func startWorker(t testing.TB, url string, reply func(req []byte) []byte) *repWorker {
	t.Helper()
	return startWorkerN(t, url, 8, reply)
}

// startWorkerN is startWorker with n contexts. With one, requests are
// handled in the order they arrived on a connection, and each reply is
// sent before the next request is taken.
func startWorkerN(t testing.TB, url string, n int, reply func(req []byte) []byte) *repWorker {
	t.Helper()
	sock, err := rep.NewSocket()
	if err != nil {
		t.Fatal(err)
	}
	if err := sock.Listen(url); err != nil {
		t.Fatal(err)
	}
	w := &repWorker{sock: sock}
	for range n {
		ctx, err := sock.OpenContext()
		if err != nil {
			t.Fatal(err)
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for {
				m, err := ctx.RecvMsg()
				if err != nil {
					return
				}
				w.calls.Add(1)
				out := reply(m.Body)
				if out == nil {
					m.Free()
					continue
				}
				err = ctx.Send(out) // copies out, which may alias m.Body
				m.Free()
				if err != nil {
					return
				}
			}
		}()
	}
	t.Cleanup(w.stop)
	return w
}

func (w *repWorker) stop() {
	w.sock.Close()
	w.wg.Wait()
}

func echo(req []byte) []byte { return append([]byte("re:"), req...) }

// ipcURL returns a short socket path: unix socket paths are limited to
// about 100 bytes, and t.TempDir() can be long.
func ipcURL(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ngb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return "ipc://" + filepath.Join(dir, name)
}

// useMangos runs the tests against the mangos transport for tcp and ipc
// too (TestMangosTransport); by default those go through package sp.
var useMangos bool

func TestMangosTransport(t *testing.T) {
	useMangos = true
	defer func() { useMangos = false }()
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"RoundTrip", TestRoundTrip}, {"NoWorkerFailsAtOnce", TestNoWorkerFailsAtOnce},
		{"Timeout", TestTimeout}, {"Busy", TestBusy}, {"WorkerLostNoResend", TestWorkerLostNoResend},
		{"RetrySafeWhenAllowed", TestRetrySafeWhenAllowed}, {"BalanceAndPriority", TestBalanceAndPriority},
		{"MaxReplyBytes", TestMaxReplyBytes},
	} {
		t.Run(tc.name, tc.f)
	}
}

func newPool(t *testing.T, c Config) *Pool {
	t.Helper()
	c.mangos = useMangos
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := NewPool(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// waitWorkers waits until the pool sees n workers at url.
func waitWorkers(t testing.TB, p *Pool, url string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.Workers()[url] != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d workers, want %d", url, p.Workers()[url], n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, url := range []string{"inproc://rt", "tcp://127.0.0.1:0"} {
		t.Run(url, func(t *testing.T) {
			if url == "tcp://127.0.0.1:0" {
				url = freeTCP(t)
			}
			startWorker(t, url, echo)
			p := newPool(t, Config{Name: "t", Endpoints: []Endpoint{{URL: url}}})
			waitWorkers(t, p, url, 1)
			buf := make([]byte, 0, 64)
			got, err := p.RoundTrip(buf, []byte("hello"), false)
			if err != nil || string(got) != "re:hello" {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestNoWorkerFailsAtOnce(t *testing.T) {
	p := newPool(t, Config{Name: "t", Endpoints: []Endpoint{{URL: ipcURL(t, "none")}}, Timeout: 5 * time.Second})
	start := time.Now()
	_, err := p.RoundTrip(nil, []byte("x"), false)
	if !errors.Is(err, ErrNoWorker) {
		t.Fatalf("err = %v, want ErrNoWorker", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v: a missing worker must fail at once", d)
	}
}

// TestTimeout: a request not answered in time fails with ErrTimeout, and
// its late reply, which arrives while the next request holds the same
// context, is not taken for that request's. (The worker used to stay
// silent, so there was no late reply to mistake, and the second request's
// ErrTimeout held whether or not late replies were dropped.)
func TestTimeout(t *testing.T) {
	url := ipcURL(t, "late")
	release := make(chan struct{})
	// One context: the late reply is sent before the next request is
	// taken, so it reaches the pool first, while that request waits.
	startWorkerN(t, url, 1, func(b []byte) []byte {
		if string(b) == "x" {
			<-release
			return []byte("late reply to x")
		}
		return echo(b)
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release) // a failed test must not leave the worker held
		}
	})
	p := newPool(t, Config{Name: "t", Endpoints: []Endpoint{{URL: url}}, Timeout: 200 * time.Millisecond, Contexts: 1})
	waitWorkers(t, p, url, 1)
	start := time.Now()
	_, err := p.RoundTrip(nil, []byte("x"), false)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
		t.Fatalf("timed out after %v, want about 200ms", d)
	}
	type result struct {
		got []byte
		err error
	}
	next := make(chan result, 1)
	go func() {
		got, err := p.RoundTrip(nil, []byte("y"), false)
		next <- result{got, err}
	}()
	// The one context is reused: release x's reply once y holds it.
	deadline := time.Now().Add(5 * time.Second)
	for p.groups[0][0].inFlight() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the second request never went in flight")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if r := <-next; r.err != nil || string(r.got) != "re:y" {
		t.Fatalf("second request: %q, %v; want %q (a late reply taken for it?)", r.got, r.err, "re:y")
	}
}

func TestBusy(t *testing.T) {
	url := ipcURL(t, "busy")
	release := make(chan struct{})
	startWorker(t, url, func(b []byte) []byte { <-release; return b })
	p := newPool(t, Config{Name: "t", Endpoints: []Endpoint{{URL: url}}, Contexts: 2})
	waitWorkers(t, p, url, 1)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); p.RoundTrip(nil, []byte("hold"), false) }()
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.groups[0][0].inFlight() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("requests never went in flight")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := p.RoundTrip(nil, []byte("third"), false); !errors.Is(err, ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	close(release)
	wg.Wait()
	if got, err := p.RoundTrip(nil, []byte("after"), false); err != nil || string(got) != "after" {
		t.Fatalf("after release: %q, %v", got, err)
	}
}

// TestWorkerLostNoResend: a worker that dies with a request in flight
// yields ErrWorkerLost, and the request is not run again by another worker.
func TestWorkerLostNoResend(t *testing.T) {
	url := ipcURL(t, "lost")
	got := make(chan struct{}, 10)
	w1 := startWorker(t, url, func([]byte) []byte { got <- struct{}{}; return nil })
	p := newPool(t, Config{Name: "t", Endpoints: []Endpoint{{URL: url}}, Timeout: 10 * time.Second})
	waitWorkers(t, p, url, 1)

	done := make(chan error, 1)
	go func() { _, err := p.RoundTrip(nil, []byte("POST once"), false); done <- err }()
	<-got
	w1.stop()
	// A fresh worker on the same address, with one context: a resend would
	// reach it before any later request on its connection, and be counted
	// before that request is answered.
	w2 := startWorkerN(t, url, 1, echo)
	select {
	case err := <-done:
		if !errors.Is(err, ErrWorkerLost) {
			t.Fatalf("err = %v, want ErrWorkerLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request hung after its worker died")
	}
	// The worker count may still include the dead pipe for a moment
	// (mangos reports its detach on its own goroutine): ErrNoWorker is
	// retried until the new worker takes the request, within a deadline.
	var reply []byte
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		reply, err = p.RoundTrip(nil, []byte("next"), false)
		if !errors.Is(err, ErrNoWorker) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || string(reply) != "re:next" {
		t.Fatalf("after the new worker connected: %q, %v", reply, err)
	}
	if n := w2.calls.Load(); n != 1 {
		t.Fatalf("the new worker ran %d requests, want 1 (the lost one must not be resent)", n)
	}
}

func TestRetrySafeWhenAllowed(t *testing.T) {
	a, b := ipcURL(t, "a"), ipcURL(t, "b")
	var wa *repWorker
	wa = startWorker(t, a, func([]byte) []byte { go wa.sock.Close(); return nil })
	startWorker(t, b, echo)
	p := newPool(t, Config{Name: "t", Endpoints: []Endpoint{{URL: a}, {URL: b, Priority: 1}}, RetryIdempotent: true})
	waitWorkers(t, p, a, 1)
	waitWorkers(t, p, b, 1)
	got, err := p.RoundTrip(nil, []byte("GET"), true)
	if err != nil || string(got) != "re:GET" {
		t.Fatalf("safe request not retried on the other worker: %q, %v", got, err)
	}
}

func TestBalanceAndPriority(t *testing.T) {
	hi1, hi2, lo := ipcURL(t, "hi1"), ipcURL(t, "hi2"), ipcURL(t, "lo")
	name := func(n string) func([]byte) []byte { return func([]byte) []byte { return []byte(n) } }
	w1 := startWorker(t, hi1, name("hi1"))
	w2 := startWorker(t, hi2, name("hi2"))
	startWorker(t, lo, name("lo"))
	p := newPool(t, Config{Name: "t", Endpoints: []Endpoint{
		{URL: lo, Priority: 5}, {URL: hi1}, {URL: hi2},
	}})
	for _, u := range []string{hi1, hi2, lo} {
		waitWorkers(t, p, u, 1)
	}
	count := func(n int) map[string]int {
		seen := map[string]int{}
		for range n {
			got, err := p.RoundTrip(nil, []byte("x"), false)
			if err != nil {
				t.Fatal(err)
			}
			seen[string(got)]++
		}
		return seen
	}
	seen := count(100)
	if seen["hi1"] < 20 || seen["hi2"] < 20 || seen["lo"] != 0 {
		t.Fatalf("want the two priority-0 endpoints to share the load and lo idle: %v", seen)
	}
	w1.stop()
	w2.stop()
	waitWorkers(t, p, hi1, 0)
	waitWorkers(t, p, hi2, 0)
	if seen := count(10); seen["lo"] != 10 {
		t.Fatalf("failover: %v", seen)
	}
	startWorker(t, hi1, name("hi1"))
	waitWorkers(t, p, hi1, 1)
	if seen := count(10); seen["hi1"] != 10 {
		t.Fatalf("failback: %v", seen)
	}
}

func TestMaxReplyBytes(t *testing.T) {
	url := ipcURL(t, "big")
	startWorker(t, url, func([]byte) []byte { return make([]byte, 2<<20) })
	p := newPool(t, Config{Name: "t", Endpoints: []Endpoint{{URL: url}}, MaxReplyBytes: 1 << 20, Timeout: 5 * time.Second})
	waitWorkers(t, p, url, 1)
	_, err := p.RoundTrip(nil, []byte("x"), false)
	if useMangos {
		// mangos drops the pipe a too-large message came on.
		if !errors.Is(err, ErrWorkerLost) {
			t.Fatalf("oversize reply through mangos: err = %v, want ErrWorkerLost", err)
		}
		return
	}
	if !errors.Is(err, ErrReplyTooLarge) {
		t.Fatalf("oversize reply: err = %v, want ErrReplyTooLarge", err)
	}
	// Only that request failed: the worker's connection stays.
	if w := p.Workers()[url]; w != 1 {
		t.Fatalf("%d workers after an oversize reply, want 1", w)
	}
}

func freeTCP(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "tcp://" + ln.Addr().String()
}
