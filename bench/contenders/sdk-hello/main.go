// Command sdk-hello is the nanogate contenders' worker: the payload paths
// served through the Go worker SDK (package worker) on a REP socket that it
// binds; the gateway dials it.
//
//	sdk-hello --bind ipc:///tmp/w1.sock --concurrency 1024
package main

import (
	"flag"
	"log"

	worker "github.com/nanogate/nanogate/backend-sdk/go"
	"github.com/nanogate/nanogate/bench/contenders/payload"
)

func main() {
	bind := flag.String("bind", "ipc:///tmp/nanogate-bench.sock", "endpoint `URL` to bind; the gateway dials it")
	conc := flag.Int("concurrency", 1024, "REP contexts, that is requests served at once; at least the gateway's in-flight limit")
	flag.Parse()

	s := &worker.Server{Handler: payload.Mux(), Concurrency: *conc}
	if err := s.Listen(*bind); err != nil {
		log.Fatal(err)
	}
	log.Fatal(s.Serve())
}
