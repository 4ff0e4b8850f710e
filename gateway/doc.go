// Package gateway is the neutral core that every front end adapts to: the
// route table (host, then regex in file order, then longest prefix), the
// interfaces of what a route leads to (Upstream for one reply, Streams of
// session frames: a hub.Pool, a BlastBeat or ZHTTP back end), the one mapping from a failure to the status a
// client sees, and the Observer hook that metrics and access logs plug
// into. It knows no HTTP server and no transport: the fasthttp front end
// (package frontend) and a ZeroMQ one both build on it.
//
// Failure policy, in one place (StatusFor):
//
//	no route                         404 (the front end's)
//	no worker connected              503 at once, Retry-After
//	every slot busy                  503, Retry-After
//	worker did not answer in time    504
//	worker lost, or reply not HTTP   502
package gateway
