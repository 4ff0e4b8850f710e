// Command sdk-stream is the worker of the nanogate contenders on a route of
// format frames: the Go worker SDK's StreamServer (package worker) serving
// /stream100 and /upload with payload.StreamMux, as stream-direct does on
// net/http, and /ws, a WebSocket echo through worker.AcceptWebSocket. It
// binds a PULL socket; the gateway dials it.
//
//	sdk-stream --bind ipc:///tmp/w1.sock --max-streams 1024
package main

import (
	"flag"
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"syscall"

	worker "github.com/nanogate/nanogate/backend-sdk/go"
	"github.com/nanogate/nanogate/bench/contenders/payload"
)

func main() {
	bind := flag.String("bind", "ipc:///tmp/nanogate-bench-stream.sock", "endpoint `URL` to bind; the gateway dials it")
	maxStreams := flag.Int("max-streams", 1024, "streams (requests and WebSockets) served at once; 503 beyond")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this `address` (e.g. 127.0.0.1:6061); off when empty")
	flag.Parse()
	if *pprofAddr != "" {
		go func() { log.Println(http.ListenAndServe(*pprofAddr, nil)) }() // pprof's handlers are on DefaultServeMux
	}

	mux := payload.StreamMux()
	mux.HandleFunc("GET "+payload.WSPath, echo)
	s := &worker.StreamServer{Handler: mux, MaxStreams: *maxStreams}
	if err := s.Listen(*bind); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	// The harness stops the gateway first: nothing is in flight that
	// Shutdown would wait for.
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}
}

// echo sends every message back with its type until the client closes or
// goes away.
func echo(w http.ResponseWriter, r *http.Request) {
	ws, err := worker.AcceptWebSocket(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for {
		t, p, err := ws.ReadMessage()
		if err != nil {
			return // *worker.CloseError: the client closed; io.EOF: it left
		}
		if err := ws.WriteMessage(t, p); err != nil {
			return
		}
	}
}
