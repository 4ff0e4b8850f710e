package gateway

import "time"

// Observer is told what the gateway did, for metrics and access logs. A
// front end calls it once per request, after the response is handed to
// the client's connection (for a stream: once its head is). Its methods
// must be cheap and must not block: they run on the request path. A nil
// Observer costs nothing.
type Observer interface {
	// Served: a request on route (nil: no route matched) got status after
	// elapsed.
	Served(route *Route, status int, elapsed time.Duration)
}
