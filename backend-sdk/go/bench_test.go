package worker

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/nanogate/nanogate/internal/sp"
)

// BenchmarkServeIPC is the worker's whole per-request cost as the gateway
// sees it: a Server with a small net/http handler on ipc://, and the
// gateway's REQ client (package sp) in the same process keeping 64 requests
// in flight. The client's own share is BenchmarkRoundTrip in package bridge
// (about 2 µs); garbage collection of the worker's allocations is included.
func BenchmarkServeIPC(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello world")
	})
	benchServeIPC(b, &Server{Handler: mux})
}

// benchServeIPC serves s on ipc:// and keeps 64 hello requests in flight
// from the gateway's sp client.
func benchServeIPC(b *testing.B, s *Server) {
	url := "ipc://" + filepath.Join(b.TempDir(), "w.sock")
	s.Concurrency, s.Logger = 1024, slog.New(slog.DiscardHandler)
	if err := s.Listen(url); err != nil {
		b.Fatal(err)
	}
	go s.Serve()
	defer s.Close()
	c, err := sp.NewClient(sp.ClientConfig{URL: url, Slots: 1024, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); c.Peers() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("the client did not connect")
		}
	}
	msg := []byte("GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n" +
		"X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n" +
		"X-Request-Id: 5f0c6a1e9b2d4c8f8a7e6d5c4b3a2910\r\n" +
		"X-Nanogate-Session: 0123456789abcdeffedcba9876543210\r\n\r\n")
	b.ReportAllocs()
	b.SetParallelism(32) // 64 requests in flight on two cores
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 512)
		for pb.Next() {
			var err error
			if buf, err = c.RoundTrip(buf[:0], msg); err != nil {
				b.Error(err)
				return
			}
			if !bytes.HasSuffix(buf, []byte("hello world")) {
				b.Errorf("reply %q", buf)
				return
			}
		}
	})
}
