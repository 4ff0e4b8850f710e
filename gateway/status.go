package gateway

import (
	"errors"
	"net/http"

	"github.com/nanogate/nanogate/bridge"
	"github.com/nanogate/nanogate/hub"
)

// StatusFor maps an upstream failure to the status the client sees. It is
// the only place that does, so that the policy in the package doc holds
// for every front end.
func StatusFor(err error) int {
	status, _ := Classify(err)
	return status
}

// Classify is StatusFor with the reason, for the observer.
func Classify(err error) (int, Reason) {
	switch {
	case errors.Is(err, bridge.ErrBusy):
		return http.StatusServiceUnavailable, ReasonBusy
	case errors.Is(err, bridge.ErrNoWorker), errors.Is(err, bridge.ErrClosed), errors.Is(err, hub.ErrNoWorker):
		return http.StatusServiceUnavailable, ReasonNoWorker
	case errors.Is(err, bridge.ErrTimeout), errors.Is(err, hub.ErrIdle):
		return http.StatusGatewayTimeout, ReasonTimeout
	}
	return http.StatusBadGateway, ReasonWorkerFailed
}

// RetryAfter tells whether a status from StatusFor invites the client to
// come back (Retry-After: the shortage is a moment's).
func RetryAfter(status int) bool { return status == http.StatusServiceUnavailable }
