package hub

import (
	"github.com/nanogate/nanogate/internal/sp"
	"github.com/nanogate/nanogate/protocol/frames"
)

// Worker is what a stream is pinned to: one connection to one worker
// process. A PUSH pipe to a worker (Pool, here) is one; a BlastBeat node on
// a ZeroMQ ROUTER or a ZHTTP handler is another (there, one Worker per
// request). The hub keeps the registry and each stream's queue; a Worker
// only carries frames out.
type Worker interface {
	// Send sends one frame of stream num of session sid. It waits for the
	// transport's back-pressure, and fails once the worker is gone. The
	// stream's owner calls it, and Deliver does too, for the Pong that
	// answers a Ping, on the goroutine that delivered the ping (the
	// hub's inbound reader, or a transport's loop): a Worker whose Pong
	// would wait on that goroutine must not send one (BlastBeat and ZHTTP
	// have no pong message, and return nil).
	Send(sid [16]byte, num uint32, t frames.Type, body []byte) error
	// Done is closed when the worker is gone: its streams end with
	// ErrWorkerLost once their queued frames are read.
	Done() <-chan struct{}
	// Pin(1) is a stream taking the worker (Open, or Retry for the new
	// one); Pin(-1) is that stream letting it go (Close, or Retry for the
	// old one), once per Pin(1), after which the hub sends it nothing
	// more for that stream. A Worker made for one request may end that
	// request there; a Picker that counts load when it picks may ignore
	// Pin(1).
	Pin(delta int)
}

// Picker chooses the worker of a new stream, by whatever load it keeps:
// never skip (the one a retry leaves), nil when no worker is connected.
type Picker interface {
	Pick(skip Worker) Worker
}

// Open starts stream num of session sid on the worker p picks and
// registers it, so that frames for it are delivered from now on. The
// caller must Close the stream.
func (h *Hub) Open(p Picker, sid [16]byte, num uint32) (*Stream, error) {
	w := p.Pick(nil)
	if w == nil {
		return nil, ErrNoWorker
	}
	w.Pin(1)
	st := &Stream{SID: sid, Num: num, hub: h, picker: p, worker: w, wake: make(chan struct{}, 1)}
	h.register(st)
	return st, nil
}

// pushWorker is a PUSH pipe to a worker process (package sp). A struct of
// one pointer: storing it in a Worker allocates nothing.
type pushWorker struct{ *sp.Peer }

func (w pushWorker) Send(sid [16]byte, num uint32, t frames.Type, body []byte) error {
	var b [64]byte
	return w.Peer.Send(frames.AppendHeader(b[:0], sid, t, num), body)
}

// TrySend is Send that fails at once, having sent nothing, when the
// connection's queue is full (Stream.pong).
func (w pushWorker) TrySend(sid [16]byte, num uint32, t frames.Type, body []byte) error {
	var b [64]byte
	return w.Peer.TrySend(frames.AppendHeader(b[:0], sid, t, num), body)
}

// SendOwned is Send for a body in a buffer from package pieces, which it
// takes: the connection writes it without a copy (Stream.SendOwned).
func (w pushWorker) SendOwned(sid [16]byte, num uint32, t frames.Type, body *[]byte) error {
	var b [64]byte
	return w.Peer.SendOwned(frames.AppendHeader(b[:0], sid, t, num), body)
}

func (w pushWorker) Pin(delta int) { w.Peer.Pin(int32(delta)) }
