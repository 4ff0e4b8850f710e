package frontend

import "github.com/nanogate/nanogate/gateway"

// Route and Upstream are the gateway core's; the aliases keep this
// package's callers short.
type (
	Route    = gateway.Route
	Upstream = gateway.Upstream
)
