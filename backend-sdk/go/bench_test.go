package worker

import (
	"io"
	"net/http"
	"testing"
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
