// Package frontend owns the client connections: a fasthttp server that
// checks each request, finds its route (package gateway), and either
// encodes it with package session, hands it to the route's Upstream and
// writes the worker's reply back (format http, handler.go), or relays it
// as session frames through the route's Streams (hub.Pool, or a ZeroMQ
// back end): streamed responses and uploads (stream.go, body.go) and
// WebSocket (websocket.go).
//
// Request path of format http, top to bottom (handler.go): framing checks,
// route lookup, encode into a pooled buffer, round trip, parse the reply in
// place, copy status, headers and body into the fasthttp response. Our own
// code on it allocates nothing per request, with or without an Observer
// (allocs_test.go asserts it), and its stack stays within a budget
// (stack_test.go: idle connections keep the stack their deepest request
// needed).
//
// Shutdown: Drain makes every response close its connection, so that
// clients move to another process before Shutdown closes what stays idle.
// In a binary upgrade, HandOff passes each plain TCP connection to the new
// process instead, as it waits for its next request, and the new process
// serves it with Adopt (handoff.go).
//
// Failure policy, in one place (gateway.StatusFor, and parseErrorStatus in
// errors.go for what fasthttp could not read):
//
//	no route                         404
//	no worker connected              503 at once
//	every context busy               503 with Retry-After
//	worker did not answer in time    504
//	worker lost, or reply not HTTP   502
//	body over the limit              413; headers over the limit or 100 lines: 431
//	bodies over max_body_memory      503 with Retry-After
//	ambiguous framing (smuggling)    400 and the connection closed
//	HTTP version other than 1.x      505
package frontend
