// Package blastbeat puts BlastBeat's dealers behind the gateway: a ZeroMQ
// ROUTER (one goroutine owns it, through internal/zmq) that DEALER sockets
// connect to, each with an identity naming its node, speaking BlastBeat's
// three-frame messages `sid, type, body` (docs/blastbeat.md).
//
// It plugs into package hub as the transport of session frames: a Vhost is
// the hub.Picker of a route (a new request goes to the available node with
// the fewest live requests), and each request is a hub.Worker pinned to one
// node that turns nanogate's frames into BlastBeat messages (the head as a
// uwsgi packet, package protocol/uwsgi, or raw headers; body; websocket;
// end). What dealers send comes back through Hub.Deliver, so the front end
// serves it as any stream: streamed responses, uploads, WebSocket.
//
// The dealer sees a sid per request: the session id with its last four
// bytes XORed with the request's number minus one (bbSID). A message is
// delivered only if its sid is live and pinned to the node that sent it;
// everything else is dropped and counted by reason (Router.Stats).
//
// Health is BlastBeat's ping/pong: every node is pinged each PingEvery, any
// message marks it alive, and one unheard for three periods takes no new
// request. A dealer that has gone is noticed when a send to its identity
// fails (ROUTER_MANDATORY): its requests end at once. retry is carried out
// here, up to MaxHops, with the request as first sent.
package blastbeat
