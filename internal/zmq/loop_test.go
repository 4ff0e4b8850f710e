//go:build !nozmq

package zmq

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// startLoop runs l on a goroutine and closes it when the test ends.
func startLoop(t *testing.T, l *Loop) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- l.Run() }()
	t.Cleanup(func() {
		l.Close()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func newLoop(t *testing.T, name string) *Loop {
	t.Helper()
	l, err := NewLoop(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A DEALER with an identity talks to a ROUTER; replies are sent from other
// goroutines through Loop.Send, so the loop's queue and wake-up carry them.
func TestRouterDealerRoundTrip(t *testing.T) {
	router := newLoop(t, "router")
	in := make(chan [][]byte, 100)
	rs, err := router.Socket(Router, Options{RouterMandatory: true}, func(p [][]byte) { in <- p })
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Bind("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	dealer := newLoop(t, "dealer")
	out := make(chan [][]byte, 100)
	ds, err := dealer.Socket(Dealer, Options{Identity: []byte("node1")}, func(p [][]byte) { out <- p })
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Connect(rs.Endpoint()); err != nil {
		t.Fatal(err)
	}
	startLoop(t, router)
	startLoop(t, dealer)

	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := dealer.Send(ds, []byte(fmt.Sprint(i)), []byte("ping")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for range n {
		p := recv(t, in)
		if len(p) != 3 || string(p[0]) != "node1" || string(p[2]) != "ping" {
			t.Fatalf("router got %q", p)
		}
		go router.Send(rs, p[0], p[1], []byte("pong"))
	}
	seen := map[string]bool{}
	for range n {
		p := recv(t, out)
		if len(p) != 2 || string(p[1]) != "pong" {
			t.Fatalf("dealer got %q", p)
		}
		seen[string(p[0])] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct replies, want %d", len(seen), n)
	}
	if s := router.Stats(); s.Received != n || s.Sent != n {
		t.Fatalf("router stats %+v", s)
	}
}

// A send to an identity the ROUTER does not know is refused and reported,
// and the loop goes on.
func TestSendErrorReported(t *testing.T) {
	errs := make(chan error, 1)
	l, err := NewLoop("router", func(s *Socket, parts [][]byte, err error) {
		if !bytes.Equal(parts[0], []byte("nobody")) {
			err = fmt.Errorf("parts %q: %w", parts, err)
		}
		errs <- err
	})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := l.Socket(Router, Options{RouterMandatory: true}, func([][]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Bind("inproc://send-error"); err != nil {
		t.Fatal(err)
	}
	startLoop(t, l)
	if err := l.Send(rs, []byte("nobody"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !IsHostUnreachable(err) {
			t.Fatalf("error %v, want host unreachable", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no send error reported")
	}
	done := make(chan struct{})
	if err := l.Do(func() { close(done) }); err != nil {
		t.Fatal(err)
	}
	<-done
	if s := l.Stats(); s.SendErrors != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// Close stops a running loop and later calls are refused; a loop that
// never ran closes too; the queue is bounded.
func TestCloseAndBounds(t *testing.T) {
	never := newLoop(t, "never")
	if _, err := never.Socket(Push, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	never.Close()
	if err := never.Send(nil, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}

	l := newLoop(t, "bounded")
	push, err := l.Socket(Push, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Not running: the queue fills and then refuses.
	for i := range QueueLen {
		if err := l.Send(push, []byte("x")); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := l.Send(push, []byte("x")); !errors.Is(err, ErrFull) {
		t.Fatalf("send past the bound: %v", err)
	}
	if s := l.Stats(); s.Full != 1 {
		t.Fatalf("stats %+v", s)
	}
	l.Close()
	if err := l.Run(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if _, err := l.Socket(Pull, Options{}, nil); !errors.Is(err, ErrStarted) {
		t.Fatalf("Socket after Close: %v", err)
	}
}

func recv(t *testing.T, c chan [][]byte) [][]byte {
	t.Helper()
	select {
	case p := <-c:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return nil
	}
}
