package frontend

import (
	"errors"
	"net"

	"github.com/nanogate/nanogate/bridge"
	"github.com/nanogate/nanogate/hub"
	"github.com/valyala/fasthttp"
)

// statusFor maps an upstream failure to the status the client sees. It is
// the only place that does, so that the policy in the package doc holds.
func statusFor(err error) int {
	switch {
	case errors.Is(err, bridge.ErrNoWorker), errors.Is(err, bridge.ErrBusy), errors.Is(err, bridge.ErrClosed),
		errors.Is(err, hub.ErrNoWorker):
		return fasthttp.StatusServiceUnavailable
	case errors.Is(err, bridge.ErrTimeout), errors.Is(err, hub.ErrIdle):
		return fasthttp.StatusGatewayTimeout
	}
	return fasthttp.StatusBadGateway
}

// parseErrorStatus maps what fasthttp reports while reading a request.
// fasthttp's own default answers an oversize body with 400; a client needs
// 413 to know what to change.
func parseErrorStatus(err error) int {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fasthttp.StatusRequestEntityTooLarge
	case errors.As(err, &small):
		return fasthttp.StatusRequestHeaderFieldsTooLarge
	case errors.As(err, &netErr) && netErr.Timeout():
		return fasthttp.StatusRequestTimeout
	}
	return fasthttp.StatusBadRequest
}
