// Command ws-echo is the ws scenario's reference: a direct fasthttp server
// with github.com/fasthttp/websocket (the library the gateway relays
// WebSocket with) echoing every message on /ws with its type, no proxy in
// front. It is also the upstream that the nginx-ws contender proxies to.
//
//	ws-echo --listen 127.0.0.1:8083
package main

import (
	"flag"
	"log"

	"github.com/fasthttp/websocket"
	"github.com/nanogate/nanogate/bench/contenders/payload"
	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8083", "`host:port` to serve on")
	flag.Parse()

	// The library's defaults (4 KiB buffers each way), as the gateway's
	// upgrader has them: they are what "direct" means.
	up := websocket.FastHTTPUpgrader{CheckOrigin: func(*fasthttp.RequestCtx) bool { return true }}
	handler := func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) != payload.WSPath {
			ctx.Error("not found", fasthttp.StatusNotFound)
			return
		}
		// A failed handshake has been answered by the upgrader.
		_ = up.Upgrade(ctx, echo)
	}
	s := &fasthttp.Server{Handler: handler, Name: "ws-echo"}
	log.Fatal(s.ListenAndServe(*listen))
}

// echo sends every message back with its type until the client closes.
func echo(c *websocket.Conn) {
	defer c.Close()
	for {
		t, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(t, p); err != nil {
			return
		}
	}
}
