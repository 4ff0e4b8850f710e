// Package frontend owns the client connections: a fasthttp server that
// checks each request, finds its route, encodes it with package session,
// hands it to the route's Upstream and writes the worker's reply back.
//
// Request path, top to bottom (handler.go): framing checks, route lookup,
// encode into a pooled buffer, round trip, parse the reply in place, copy
// status, headers and body into the fasthttp response. Our own code on it
// allocates nothing per request (allocs_test.go asserts it).
//
// Failure policy, in one place (gateway.StatusFor, and parseErrorStatus in
// errors.go for what fasthttp could not read):
//
//	no route                         404
//	no worker connected              503 at once
//	every context busy               503 with Retry-After
//	worker did not answer in time    504
//	worker lost, or reply not HTTP   502
//	body over the limit              413; headers over the limit: 431
//	ambiguous framing (smuggling)    400 and the connection closed
package frontend
