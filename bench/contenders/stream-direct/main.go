// Command stream-direct is the stream scenario's reference: a direct
// net/http server answering /stream100 and /upload with the handler code
// that the nanogate SDK stream worker runs (payload.StreamMux).
//
//	stream-direct --listen 127.0.0.1:8084
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/nanogate/nanogate/bench/contenders/payload"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8084", "`host:port` to serve on")
	flag.Parse()
	s := &http.Server{Addr: *listen, Handler: payload.StreamMux()}
	log.Fatal(s.ListenAndServe())
}
