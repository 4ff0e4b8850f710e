package bridge

import (
	"log/slog"
	"testing"

	"github.com/nanogate/nanogate/internal/sp"
)

// TestRoundTripZeroAllocs is the allocation budget of the whole request
// path below the front end, both sides: Pool, internal/sp's REQ client, a
// real ipc socket, sp's REP server and a handler that appends its reply.
func TestRoundTripZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	url := ipcURL(t, "allocs")
	srv := sp.NewServer(sp.ServerConfig{
		Handler:     func(dst, req []byte) []byte { return append(dst, benchReply...) },
		Concurrency: 4, Logger: slog.New(slog.DiscardHandler),
	})
	if err := srv.Listen(url); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	p, err := NewPool(Config{Name: "allocs", Endpoints: []Endpoint{{URL: url}}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitWorkers(t, p, url, 1)
	msg := []byte("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
	buf := make([]byte, 0, 256)
	for range 100 { // warm the pools and the buffers
		if buf, err = p.RoundTrip(buf[:0], msg, false); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		buf, err = p.RoundTrip(buf[:0], msg, false)
	})
	if err != nil || string(buf) != benchReply {
		t.Fatalf("reply %q, %v", buf, err)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per round trip (gateway and worker sides together), want 0", allocs)
	}
}
