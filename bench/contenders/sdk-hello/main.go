// Command sdk-hello is the nanogate contenders' worker: the payload paths
// served through the Go worker SDK (package worker) on a REP socket that it
// binds; the gateway dials it.
//
//	sdk-hello --bind ipc:///tmp/w1.sock --concurrency 1024 [--fast]
package main

import (
	"flag"
	"log"
	"net/http"

	worker "github.com/nanogate/nanogate/backend-sdk/go"
	"github.com/nanogate/nanogate/bench/contenders/payload"
)

func main() {
	bind := flag.String("bind", "ipc:///tmp/nanogate-bench.sock", "endpoint `URL` to bind; the gateway dials it")
	conc := flag.Int("concurrency", 1024, "requests served at once; at least the gateway's in-flight limit")
	fast := flag.Bool("fast", false, "serve through the SDK's FastHandler instead of net/http")
	flag.Parse()

	s := &worker.Server{Handler: payload.Mux(), Concurrency: *conc}
	if *fast {
		s.Fast = fastPayload()
	}
	if err := s.Listen(*bind); err != nil {
		log.Fatal(err)
	}
	log.Fatal(s.Serve())
}

// fastPayload serves the payload paths as payload.Mux does, through the
// SDK's FastHandler.
func fastPayload() worker.FastHandlerFunc {
	big := payload.Big()
	return func(w *worker.FastResponse, r *worker.FastRequest) {
		method := string(r.Method())
		switch string(r.Path()) {
		case "/hello":
			if method == http.MethodGet || method == http.MethodHead {
				w.AddHeader("Content-Type", "text/plain")
				w.WriteString(payload.Hello)
				return
			}
		case "/big":
			if method == http.MethodGet || method == http.MethodHead {
				w.AddHeader("Content-Type", "text/plain")
				w.Write(big)
				return
			}
		case "/echo":
			if method == http.MethodPost {
				w.AddHeader("Content-Type", "application/octet-stream")
				w.Write(r.Body())
				return
			}
		default:
			w.SetStatus(http.StatusNotFound)
			w.WriteString("404 page not found\n")
			return
		}
		allow := "GET, HEAD"
		if string(r.Path()) == "/echo" {
			allow = "POST"
		}
		w.AddHeader("Allow", allow)
		w.SetStatus(http.StatusMethodNotAllowed)
	}
}
