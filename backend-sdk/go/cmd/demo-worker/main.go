// Command demo-worker is the worker `make run` starts: a plain
// net/http.ServeMux served over nanomsg with the worker SDK.
//
// By default it serves a route of format http (one request, one reply) with
// worker.Server. With --stream it serves a route of format frames with
// worker.StreamServer, and adds what only streams can do: a server-sent
// event clock (/api/sse), a WebSocket echo (/api/ws), a streamed upload
// (/api/upload reads the body as it arrives) and a page at / that shows
// them. Streaming is a flag, not the default, so that a route of format
// http pointing at this worker keeps working as before; a route of format
// frames (as `make run`'s) needs --stream.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	worker "github.com/nanogate/nanogate/backend-sdk/go"
)

func main() {
	bind := flag.String("bind", "ipc:///tmp/nanogate-demo.sock", "endpoint `URL` to bind; the gateway dials it")
	stream := flag.Bool("stream", false, "serve a route of format frames (SSE, WebSocket, streamed upload, the page at /)")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from worker %d\n", os.Getpid())
	})
	// /api/echo shows what a worker receives: the session id is stable across
	// the keep-alive requests of one client connection.
	mux.HandleFunc("/api/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"method":  r.Method,
			"uri":     r.RequestURI,
			"session": r.Header.Get("X-Nanogate-Session"),
			"request": r.Header.Get("X-Request-Id"),
			"client":  r.RemoteAddr,
			"bytes":   len(body),
		})
	})
	mux.HandleFunc("POST /api/upload", upload)
	mux.HandleFunc("PUT /api/upload", upload) // curl -T

	if !*stream {
		log.Printf("demo worker on %s", *bind)
		log.Fatal(worker.ListenAndServe(*bind, mux))
	}

	addStreaming(mux)
	s := &worker.StreamServer{Handler: mux}
	if err := s.Listen(*bind); err != nil {
		log.Fatal(err)
	}
	log.Printf("demo worker (format frames) on %s", *bind)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	// SSE and WebSocket handlers run until their client leaves: give them
	// a moment, then Shutdown cancels their contexts.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		log.Printf("shutdown: %v", err)
	}
}

// upload reads the body as it arrives (with --stream, in pieces, however
// large) and answers how many bytes it read.
func upload(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"bytes\":%d}\n", n)
}
