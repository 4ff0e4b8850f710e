// Package bridge owns the worker side of the gateway for routes of format
// http: for each route a Pool of endpoints, one REQ socket per endpoint
// with a fixed number of requests in flight, and the choice of endpoint for
// each request. tcp:// and ipc:// endpoints use the gateway's own SP code
// (internal/sp: many requests in flight per connection, batched writes);
// tls+tcp://, ws://, wss:// and inproc:// use mangos v3 REQ sockets with a
// fixed set of contexts. Format frames is package hub's.
//
// Choice: endpoints are grouped by priority (a lower number is preferred);
// the first group with a connected worker takes the traffic, and inside it
// the endpoint with the fewest requests in flight wins. A group takes over
// only when every endpoint of the groups before it has no worker, and gives
// the traffic back as soon as one reconnects. mod_nano parsed a priority for
// its channels but never used it.
//
// Resending: mangos resends a request after a minute and whenever the
// worker's connection drops, which silently runs a POST twice. Every mangos
// socket here sets OptionRetryTime to 0, and internal/sp never resends; a Pool may instead retry an idempotent
// request once, on the gateway's own terms (see Config.RetryIdempotent).
//
// Health: an endpoint whose requests keep failing is ejected for a growing
// time (health.go, passive); where the route names a health path, each
// endpoint is also probed every interval and ejected or restored on the
// probe's answer (probe.go, active).
//
// It never imports the HTTP front end: messages are opaque bytes.
package bridge
