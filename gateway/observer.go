package gateway

import (
	"net"
	"time"
)

// Observer is told what the gateway did, for metrics and access logs. A
// front end calls Served once per request, after the response is handed to
// the client's connection (for a stream: once its head is). It must be
// cheap and must not block or keep the Exchange's slices: it runs on the
// request path. A nil Observer costs nothing.
type Observer interface {
	Served(x Exchange)
}

// Exchange is one request as an Observer sees it. It is passed by value so
// that calling an Observer does not make the front end allocate; its
// slices are valid only during the call.
type Exchange struct {
	Route     *Route // nil: no route matched
	Method    []byte
	URI       []byte
	Client    net.Addr
	RequestID []byte
	Status    int
	Bytes     int // response body bytes; -1 for a stream, whose length is not known yet
	Elapsed   time.Duration
	End       time.Time // when it was served; zero: the observer reads the clock
	Conn      uint64    // the client connection's number in its front end: lines of one keep their order
	Reason    Reason    // why the gateway answered itself, or ReasonNone
}

// Reason says why the gateway answered a request itself instead of a
// worker, for the rejection counters.
type Reason uint8

const (
	ReasonNone           Reason = iota
	ReasonNoRoute               // 404
	ReasonBadRequest            // 400: unreadable, or a request smuggling shape
	ReasonBodyTooLarge          // 413
	ReasonHeaderTooLarge        // 431
	ReasonNoWorker              // 503 at once
	ReasonBusy                  // 503: every slot taken
	ReasonTimeout               // 504
	ReasonWorkerFailed          // 502
	ReasonForbidden             // 403: a WebSocket Origin not allowed
	numReasons
)

var reasonNames = [numReasons]string{"", "no_route", "bad_request", "body_too_large", "header_too_large",
	"no_worker", "busy", "timeout", "worker_failed", "forbidden"}

func (r Reason) String() string {
	if r >= numReasons {
		return "unknown"
	}
	return reasonNames[r]
}

// Reasons lists every Reason but ReasonNone, for metrics that export
// each one from the start.
func Reasons() []Reason {
	out := make([]Reason, 0, numReasons-1)
	for r := ReasonNoRoute; r < numReasons; r++ {
		out = append(out, r)
	}
	return out
}

// Observers calls each of its Observers in turn.
type Observers []Observer

func (o Observers) Served(x Exchange) {
	for _, ob := range o {
		ob.Served(x)
	}
}
