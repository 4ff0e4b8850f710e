package frontend

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBodyBudget: a body announced past the budget is refused with 503
// before anything is allocated for it, and the budget comes back when a
// stalled upload's client goes away.
func TestBodyBudget(t *testing.T) {
	up, _ := recorder("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	s := New(Config{Routes: []Route{{Upstream: up}}, MaxBodyBytes: 8 << 20, MaxBodyMemory: 1 << 20,
		Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(ln); close(done) }()
	t.Cleanup(func() { ln.Close(); <-done })
	addr := ln.Addr().String()
	used := func() int64 {
		s.budget.mu.Lock()
		defer s.budget.mu.Unlock()
		return s.budget.used
	}
	const size = 800 << 10
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", size)

	// A stalls after 1 KiB: its 800 KiB are reserved.
	a, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(a, head+strings.Repeat("x", 1024))
	for deadline := time.Now().Add(5 * time.Second); used() < size; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("A's body not reserved: %d", used())
		}
	}
	// B does not fit beside it.
	b, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(b, head)
	resp, err := http.ReadResponse(bufio.NewReader(b), nil)
	if err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the budget: %v, %v", resp, err)
	}
	// A goes away; a whole upload of the same size then fits.
	a.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r, err := http.Post("http://"+addr+"/", "application/octet-stream", strings.NewReader(strings.Repeat("y", size)))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the stalled client left: %d", r.StatusCode)
		}
	}
}
