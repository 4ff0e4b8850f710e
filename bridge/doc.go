// Package bridge owns the worker side of the gateway: for each route a Pool
// of endpoints, one mangos REQ socket per endpoint with a fixed set of
// contexts opened at start-up, and the choice of endpoint for each request.
//
// Choice: endpoints are grouped by priority (a lower number is preferred);
// the first group with a connected worker takes the traffic, and inside it
// the endpoint with the fewest requests in flight wins. A group takes over
// only when every endpoint of the groups before it has no worker, and gives
// the traffic back as soon as one reconnects. mod_nano parsed a priority for
// its channels but never used it.
//
// Resending: mangos resends a request after a minute and whenever the
// worker's connection drops, which silently runs a POST twice. Every socket
// here sets OptionRetryTime to 0; a Pool may instead retry an idempotent
// request once, on the gateway's own terms (see Config.RetryIdempotent).
//
// It never imports the HTTP front end: messages are opaque bytes.
package bridge
