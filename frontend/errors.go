package frontend

import (
	"errors"
	"net"

	"github.com/valyala/fasthttp"
)

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
