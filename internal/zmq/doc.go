// Package zmq is nanogate's one cgo boundary: the only package that imports
// github.com/pebbe/zmq4 (libzmq). Everything ZeroMQ in nanogate (the
// ZMQ_STREAM front end, BlastBeat's ROUTER, Condure's ZHTTP sockets) holds
// its sockets through a Loop.
//
// ZeroMQ sockets are not safe for concurrent use, so one goroutine, the
// Loop's, owns every socket of the Loop: it receives and hands each message
// to the socket's handler on that goroutine, and it performs every send.
// Other goroutines queue sends with Loop.Send (a bounded queue: ErrFull
// when it is full, never an unbounded buffer) and run socket work with
// Loop.Do. A queued send wakes the loop through an inproc PAIR socket; the
// wake-up is coalesced, so a burst of sends costs one wake-up.
//
// Build without libzmq: `go build -tags nozmq` compiles a stand-in whose
// NewLoop returns ErrUnavailable, so the gateway builds and runs without
// ZeroMQ and refuses, at start, a configuration that needs it.
package zmq

import "errors"

// Errors returned by Loop.
var (
	// ErrFull: the send queue is full; the message was not queued. The
	// caller sheds (drops and counts, or answers 503) rather than waits.
	ErrFull = errors.New("zmq: send queue full")
	// ErrClosed: the loop has stopped.
	ErrClosed = errors.New("zmq: loop closed")
	// ErrUnavailable: built with -tags nozmq.
	ErrUnavailable = errors.New("zmq: built without libzmq (-tags nozmq)")
	// ErrStarted: sockets are made, bound and connected before Run.
	ErrStarted = errors.New("zmq: loop already running")
)

// Kind is a ZeroMQ socket type.
type Kind int

// The socket types nanogate uses.
const (
	Router Kind = iota // BlastBeat's and ZHTTP's ROUTER
	Dealer
	Stream // ZMQ_STREAM: raw TCP peers, [identity, bytes]
	Push
	Pull
	Pub
	Sub
	Req
	Rep
)

func (k Kind) String() string {
	switch k {
	case Router:
		return "ROUTER"
	case Dealer:
		return "DEALER"
	case Stream:
		return "STREAM"
	case Push:
		return "PUSH"
	case Pull:
		return "PULL"
	case Pub:
		return "PUB"
	case Sub:
		return "SUB"
	case Req:
		return "REQ"
	case Rep:
		return "REP"
	}
	return "unknown"
}

// Options are set on a socket when it is made. Zero values keep libzmq's
// defaults, except Linger, whose zero means 0 (libzmq's default, -1, would
// make Close wait forever for a peer that is gone).
type Options struct {
	Identity        []byte   // ZMQ_ROUTING_ID (DEALER node names, ZHTTP's ids)
	Subscribe       [][]byte // SUB prefixes; none: SUB receives nothing
	SndHWM, RcvHWM  int      // messages; zero: libzmq's 1000
	MaxMsgSize      int64    // bytes; zero: unlimited (libzmq's -1)
	RouterMandatory bool     // ROUTER: a send to an unknown identity fails (EHOSTUNREACH) instead of vanishing
	RouterHandover  bool     // ROUTER: a new peer with a known identity takes it over (a restarted dealer)
	Immediate       bool     // queue only to completed connections
	Linger          int      // milliseconds Close waits for unsent messages
}

// Handler receives one whole multipart message on the loop's goroutine.
// The parts are the caller's to keep.
type Handler func(parts [][]byte)

// SendErrorFunc is told, on the loop's goroutine, of a queued message that
// libzmq refused (unknown ROUTER identity, peer at its high-water mark).
type SendErrorFunc func(s *Socket, parts [][]byte, err error)

// Stats are a loop's counters since it was made.
type Stats struct {
	Sent, Received uint64
	SendErrors     uint64 // refused by libzmq (SendErrorFunc was told)
	Full           uint64 // Send calls that found the queue full
}
