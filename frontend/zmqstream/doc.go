// Package zmqstream is nanogate's ZeroMQ raw ROUTER front end: browsers
// connect to a ZMQ_STREAM socket instead of a TCP listener, and the same
// frontend.Server serves them.
//
// Design. The issue asks for the fasthttp front end's HTTP/1.1 behaviour
// (limits, statuses, smuggling defences, keep-alive, pipelining in order,
// chunked uploads) by sharing its code. The strongest sharing is none to
// do: Listener is a net.Listener, and each ZMQ_STREAM peer identity is a
// net.Conn, so frontend.Server.Serve runs over it unchanged: the same
// fasthttp server, routes, parser, checks, Drain and Shutdown, the same
// Concurrency limit (max_conns answers 503), the same open-connection
// count for metrics. Nothing of HTTP is in this package.
//
// One goroutine, the zmq.Loop's, owns the socket (ZeroMQ sockets are not
// thread safe; the cgo stays in internal/zmq). It receives:
//
//	[id, "", ip]   a new peer (ZMQ_STREAM_NOTIFY; ip from libzmq's
//	               Peer-Address): a conn, queued for Accept (bounded
//	               backlog; past it, or after Close, the peer is closed)
//	[id, bytes]    appended to that conn's inbound queue, which Read drains
//	[id, "", ip]   again for a known id: the peer left; Read returns what
//	               was received, then io.EOF, and Write fails
//
// Write copies into 64 KiB chunks queued on the conn (bounded by
// MaxOutbound: past it Write waits, within its deadline) and queues one
// flush per burst on the loop (Loop.Do of a method value bound once: no
// allocation); the flush sends [id, chunk] in order and Close's [id, ""]
// last, which libzmq performs after what it holds for the peer (pinned by
// internal/zmq's TestStreamSocket), so a Connection: close reply arrives
// whole. Deadlines work as on a TCP connection (fasthttp's idle and read
// timeouts use them) and may be changed while a Read waits.
//
// What ZMQ_STREAM cannot do, and what this package does instead:
//
//   - Stop reading one peer. libzmq reads every peer as fast as it can and
//     the loop must take every message (or stall all peers), so each conn's
//     unread bytes are bounded by MaxInbound (the gateway gives it the
//     largest request, max_body_bytes + max_header_bytes + 1 MiB) and,
//     over all conns, by MaxInboundTotal (max_body_memory): past either
//     the conn is cut and counted (Stats.Overflow). A client that
//     pipelines more than that without reading, or uploads faster than a
//     frames route's worker takes the body, is cut where TCP would have
//     slowed it.
//   - Tell when a slow peer has room. A send at SndHWM fails with EAGAIN;
//     the flush is retried after 1 ms, doubling to 100 ms, and the writer
//     waits within its write deadline. libzmq holds at most SndHWM (64)
//     chunks per peer. A close waits behind them too: a client that never
//     reads keeps its TCP connection until it reads or leaves (the gateway's
//     side of it, goroutine and buffers, is gone at once).
//   - Half-close. [id, ""] closes both ways. The lingering close after a
//     413 (frontend.LingeringCloser) keeps the connection open and drops
//     what the client still sends, for 2 s or 4 MiB, then closes it; the
//     client sees no end of stream before that.
//   - Name the client's port. Peer-Address is the IP: RemoteAddr is
//     ip:0, and X-Forwarded-For carries the real client IP.
//   - Stop listening and keep the connections. zmq_unbind ends every
//     connection of the listener, so Close only stops accepting (new peers
//     are closed at once) and Stop, after the server's Shutdown, closes the
//     socket. No SO_REUSEPORT and no upgrade_socket hand-over (the config
//     refuses them with frontend = "zmq").
//
// The conn also implements frontend.AfterResponseCloser (a worker's close
// frame ends the connection after its response) and LingeringCloser, the
// two hooks the TCP front end's connections have.
//
// A goroutine per connection: fasthttp serves each connection on a
// goroutine of its worker pool, as the TCP front end does; an idle
// keep-alive connection parks it in Read on a channel. That is not where
// the memory goes: bench/harness --scenario idle, 10,000 idle connections,
// 23.4 KiB each against the fasthttp front end's 6.6, the difference being
// libzmq's own per-connection state, mostly its 8 KiB decoder and 8 KiB
// encoder batch buffers (ZMQ_IN_BATCH_SIZE and ZMQ_OUT_BATCH_SIZE are
// draft options, absent from Debian's libzmq 4.3.4). See
// docs/zmq-frontend.md for the figures and the throughput.
package zmqstream
