package worker

import "net/http"

// SessionID is the id of the client connection a request came on (32
// lower-case hex digits, X-Nanogate-Session): the same for every request
// of a keep-alive connection, the key for per-client state and for
// pushing to the client (Pusher). Empty when the route sends no forwarded
// headers (compat = "mod_nano").
func SessionID(r *http.Request) string { return r.Header.Get("X-Nanogate-Session") }

// RequestID is the request's id (X-Request-Id): the client's own when it
// sent a sane one, else one the gateway made; the gateway logs it with
// every error, so log it with yours.
func RequestID(r *http.Request) string { return r.Header.Get("X-Request-Id") }
