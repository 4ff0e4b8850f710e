// Package worker turns any net/http.Handler into a nanogate worker.
//
// The gateway sends each HTTP request as one nanomsg message over a REQ
// socket; a worker answers on a REP socket with one complete HTTP response.
// Three lines make a handler a worker:
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("/api/hello", hello)
//	log.Fatal(worker.ListenAndServe("ipc:///tmp/nanogate-api.sock", mux))
//
// ListenAndServe binds the endpoint and the gateway dials it (mod_nano's
// model); DialAndServe("tcp://gateway:5555", mux) dials a gateway that
// listens, so that workers can come and go without a configuration change.
// A Server gives control over concurrency, message size, logging, several
// endpoints and graceful shutdown:
//
//	s := &worker.Server{Handler: mux, Concurrency: 16}
//	if err := s.Listen("tcp://0.0.0.0:5555"); err != nil { ... }
//	go s.Serve()
//	...
//	err := s.Shutdown(ctx) // replies to the requests in flight, then closes
//
// # What a handler sees
//
// The request is the client's, as the gateway received it: method, target
// (r.RequestURI, r.URL), protocol, Host and headers in the client's order,
// and the body, already de-chunked, with r.ContentLength set. The gateway
// adds X-Forwarded-For (r.RemoteAddr is its last entry as "ip:0"),
// X-Forwarded-Proto (r.TLS is always nil: TLS ends at the gateway),
// X-Request-Id, and X-Nanogate-Session, which names the client's TCP
// connection and stays the same across its keep-alive requests. The
// request's context ends when the handler returns, and when the server is
// closed. As with net/http, the body must not be read after the handler
// returns: it aliases the message, which is then recycled.
//
// The reply is buffered and sent as one message when the handler returns,
// so Flush is a no-op and Hijack is not supported; the rules are net/http's:
// the first WriteHeader wins, Write without it means 200, Content-Type is
// sniffed when unset, Content-Length is computed (HEAD keeps the length the
// body would have had), 204 and 304 carry no body, and informational 1xx
// codes other than 101 are dropped. A handler that panics gets a 500 reply
// and the worker goes on serving.
//
// # FastHandler
//
// For workers where the worker's own cost matters, Server.Fast takes a
// FastHandler instead: the request is read in place in the message
// (FastRequest: Method, Path, Query, Header, VisitHeaders, Body, ClientIP)
// and the reply is encoded straight into the outgoing message
// (FastResponse: SetStatus, AddHeader, Write), with no allocation per
// request, as fasthttp does for HTTP servers:
//
//	s := &worker.Server{Fast: worker.FastHandlerFunc(func(w *worker.FastResponse, r *worker.FastRequest) {
//		w.AddHeader("Content-Type", "text/plain")
//		w.WriteString("hello world")
//	})}
//
// Requests are checked exactly as for an http.Handler. Everything r and w
// hold is valid only during the call. There is no per-request context and
// no Content-Type sniffing. Measured behind the gateway on 2 cores: about
// 8 µs of worker CPU per request against 15 for the same handler on
// net/http (bench/README.md, nanogate-ipc-fast).
//
// # Streams: StreamServer, AcceptWebSocket, Pusher
//
// A route of format frames (docs/PROTOCOL.md) carries what one reply per
// request cannot: streamed responses (server-sent events), uploads read as
// they arrive, WebSocket, and messages pushed to a client by its session
// id. A StreamServer serves an http.Handler there:
//
//	s := &worker.StreamServer{Handler: mux}
//	if err := s.Listen("ipc:///tmp/nanogate-api.sock"); err != nil { ... } // or Dial, for mode "listen"
//	...
//	err := s.Shutdown(ctx) // running handlers finish; new requests go back to the gateway (retry)
//
// Requests arrive on a PULL socket (tcp:// or ipc://), and each runs its
// handler in its own goroutine, at most MaxStreams at once (503 beyond).
// The reply's frames go to the gateway's inbound address, which every
// request names (X-Nanogate-Inbound): no configuration. What changes for a
// handler:
//
//   - Flush sends: the head (without Content-Length, so the client gets
//     the body chunked) and what was written, at once. Without Flush, up
//     to 32 KiB is gathered; a reply that fits is sent whole, with its
//     Content-Length, when the handler returns.
//   - r.Body is read as the client sends it (r.ContentLength is -1 when the
//     client did not say); up to 1 MiB per stream waits for the handler.
//     A handler that leaves it full for 30 seconds has its stream cut, since
//     other streams' frames wait behind it on the gateway's connection.
//   - r.Context() ends when the client goes away (the gateway's end frame);
//     reads and writes then fail with ErrStreamEnded.
//   - Writes wait when the client does not keep up: a stream may have
//     1 MiB (frames.Window) of body in flight, and the gateway grants
//     more as it delivers it.
//
// A request with Upgrade: websocket has been answered by the gateway
// already; AcceptWebSocket takes its stream over, and ReadMessage and
// WriteMessage carry whole messages (TextMessage, BinaryMessage, as in
// gorilla/websocket). The client's close reads as a *CloseError; the
// WebSocket ends when its handler returns.
//
// Any process may push to a client whose session id it knows (from
// X-Nanogate-Session, or WebSocket.SessionID), through the gateway's
// inbound address:
//
//	p, err := worker.NewPusher("ipc:///tmp/nanogate-inbound.sock")
//	err = p.Text(sessionID, "hello")
//	err = p.Close()
//
// Send returns once the frame is written, waiting up to 5 seconds for the
// gateway, so a command may exit right after.
//
// # Endpoints
//
// URLs are mangos URLs: ipc:///path, tcp://host:port, tls+tcp://host:port
// (with Server.TLSConfig), ws://host:port/path, wss://host:port/path and
// inproc://name (within one process, as in tests).
//
// # Garbage collection
//
// A worker keeps little memory alive, so with Go's default GOGC=100 the
// collector runs after every 4 MB or so of allocation: about every 2,000
// requests of a small net/http handler, which allocates about 1.8 KB per
// request (http.Request, its header map, the response header map). Workers
// that serve many small requests spend less CPU with a larger target:
// GOGC=400, or GOGC=off with a GOMEMLIMIT sized to the process. Measured on
// 2 cores behind the gateway at 64 connections (bench/README.md): the
// hello worker's CPU per request went from about 15 to 12.3 µs with
// GOGC=400. This package does not set it: it is the program's choice.
package worker
