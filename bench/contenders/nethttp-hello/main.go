// Command nethttp-hello is a direct net/http server answering the payload
// package's paths: the standard library's cost with no proxy in front.
//
//	nethttp-hello --listen 127.0.0.1:8082
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/nanogate/nanogate/bench/contenders/payload"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8082", "`host:port` to serve on")
	flag.Parse()
	s := &http.Server{Addr: *listen, Handler: payload.Mux()}
	log.Fatal(s.ListenAndServe())
}
