// Command fasthttp-hello is the benchmark's upper limit: a direct fasthttp
// server answering the payload package's paths with no proxy in front. It is
// also the upstream that the nginx and Apache contenders proxy to.
//
//	fasthttp-hello --listen 127.0.0.1:8081
package main

import (
	"flag"
	"log"

	"github.com/nanogate/nanogate/bench/contenders/payload"
	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "`host:port` to serve on")
	flag.Parse()

	big := payload.Big()
	handler := func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/hello":
			ctx.SetContentType("text/plain")
			ctx.SetBodyString(payload.Hello)
		case "/big":
			ctx.SetContentType("text/plain")
			ctx.SetBody(big)
		case "/echo":
			if !ctx.IsPost() {
				ctx.Error("POST only", fasthttp.StatusMethodNotAllowed)
				return
			}
			ctx.SetContentType("application/octet-stream")
			ctx.SetBody(ctx.PostBody())
		default:
			ctx.Error("not found", fasthttp.StatusNotFound)
		}
	}
	// fasthttp's defaults otherwise: they are what "direct fasthttp" means.
	s := &fasthttp.Server{Handler: handler, Name: "fasthttp-hello"}
	log.Fatal(s.ListenAndServe(*listen))
}
