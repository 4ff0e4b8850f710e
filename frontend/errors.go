package frontend

import (
	"errors"
	"github.com/nanogate/nanogate/gateway"
	"net"

	"github.com/valyala/fasthttp"
)

// parseErrorStatus maps what fasthttp reports while reading a request.
// fasthttp's own default answers an oversize body with 400; a client needs
// 413 to know what to change.
func parseErrorStatus(err error) (int, gateway.Reason) {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fasthttp.StatusRequestEntityTooLarge, gateway.ReasonBodyTooLarge
	case errors.As(err, &small):
		return fasthttp.StatusRequestHeaderFieldsTooLarge, gateway.ReasonHeaderTooLarge
	case errors.As(err, &netErr) && netErr.Timeout():
		return fasthttp.StatusRequestTimeout, gateway.ReasonBadRequest
	}
	return fasthttp.StatusBadRequest, gateway.ReasonBadRequest
}
