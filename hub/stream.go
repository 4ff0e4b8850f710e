package hub

import (
	"sync"
	"time"

	"github.com/nanogate/nanogate/internal/pieces"
	"github.com/nanogate/nanogate/protocol/frames"
)

// Queue bounds per stream. The window is what a worker may send ahead of
// credit (frames.Window); a frame past it may carry up to a piece more.
const (
	maxQueuedBytes  = frames.Window + 256<<10 // in buffers: at most twice (package pieces)
	maxQueuedFrames = 4096
)

// Stream is one request of a session, from its request frame to its end.
// Its owner (one front-end goroutine, or two for a WebSocket: reader and
// writer) calls Next, Send and Close; the hub's inbound readers call put.
type Stream struct {
	SID [16]byte
	Num uint32

	hub    *Hub
	picker Picker // for Retry
	worker Worker // written by Retry under mu; read without it by the owner only

	mu     sync.Mutex
	q      []item // frames from the worker; q[head:] not yet taken
	head   int
	queued int   // body bytes in q[head:]
	err    error // set once: the stream is over for the reader
	wake   chan struct{}
	timer  *time.Timer
	closed bool
	taken  []*[]byte // the bodies Next and More returned last, recycled at the next call
	onCut  func()    // run once, by put, when the stream overflows
}

// OnCut sets f to run once if the stream overflows: the owner may be
// blocked writing to a client that stopped reading, and f (closing that
// client's connection) frees it at once instead of at its write timeout.
// Set it before the first Next.
func (s *Stream) OnCut(f func()) {
	s.mu.Lock()
	s.onCut = f
	s.mu.Unlock()
}

type item struct {
	t    frames.Type
	body []byte
	buf  *[]byte // body's backing, from package pieces
}

// Send sends one frame to the stream's worker. It waits while the worker's
// connection has 512 KiB queued (the transport's back-pressure), and fails
// with ErrWorkerLost once that connection has ended.
func (s *Stream) Send(t frames.Type, body []byte) error {
	if s.worker.Send(s.SID, s.Num, t, body) != nil {
		return ErrWorkerLost
	}
	return nil
}

// ownedSender is a Worker that can send a body from a buffer of package
// pieces without copying it (the hub's own PUSH workers).
type ownedSender interface {
	SendOwned(sid [16]byte, num uint32, t frames.Type, body *[]byte) error
}

// SendOwned is Send for a body in a buffer from package pieces, which it
// takes in every case; a worker that can write it without a copy does.
func (s *Stream) SendOwned(t frames.Type, body *[]byte) error {
	var err error
	if o, ok := s.worker.(ownedSender); ok {
		err = o.SendOwned(s.SID, s.Num, t, body)
	} else {
		err = s.worker.Send(s.SID, s.Num, t, *body)
		pieces.Put(body)
	}
	if err != nil {
		return ErrWorkerLost
	}
	return nil
}

// Next returns the next frame from the worker, waiting at most idle. The
// body is the caller's until the next call. Frames queued before the
// worker's connection ended are still returned, then ErrWorkerLost; a cut
// (ErrOverflow) or an Interrupt is returned at once.
func (s *Stream) Next(idle time.Duration) (frames.Type, []byte, error) {
	for i, bp := range s.taken {
		pieces.Put(bp)
		s.taken[i] = nil
	}
	s.taken = s.taken[:0]
	if s.timer == nil {
		s.timer = time.NewTimer(idle)
	} else {
		s.timer.Reset(idle)
	}
	lost := false
	for {
		s.mu.Lock()
		if err := s.err; err != nil {
			// Cut, interrupted or closed: what is queued no longer
			// matters.
			s.mu.Unlock()
			return 0, nil, err
		}
		if s.head < len(s.q) {
			it := s.q[s.head]
			s.q[s.head] = item{}
			s.head++
			if s.head == len(s.q) {
				s.q, s.head = s.q[:0], 0
			}
			s.queued -= len(it.body)
			s.mu.Unlock()
			s.taken = append(s.taken, it.buf)
			return it.t, it.body, nil
		}
		s.mu.Unlock()
		if lost {
			return 0, nil, ErrWorkerLost
		}
		select {
		case <-s.wake:
		case <-s.worker.Done():
			lost = true // one more look at the queue first
		case <-s.timer.C:
			return 0, nil, ErrIdle
		}
	}
}

// More appends to dst the bodies of the frames of type t queued right
// behind the one Next returned, without waiting, while their bytes add up
// to at most max; they too are the caller's until the next call of Next.
// A writer that finds several pieces waiting sends them in one write.
func (s *Stream) More(t frames.Type, dst [][]byte, max int) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.err == nil && s.head < len(s.q) {
		it := s.q[s.head]
		if it.t != t || len(it.body) > max || len(it.body) == 0 {
			break
		}
		max -= len(it.body)
		s.q[s.head] = item{}
		s.head++
		s.queued -= len(it.body)
		s.taken = append(s.taken, it.buf)
		dst = append(dst, it.body)
	}
	if s.head == len(s.q) {
		s.q, s.head = s.q[:0], 0
	}
	return dst
}

// put queues a frame from the inbound side. Its body is in buf, which put
// keeps (and reports it) when the body is most of it; otherwise, or with a
// nil buf, the body is copied. Past the bounds the stream fails with
// ErrOverflow: the client is not keeping up or the worker ignored its
// credit, and holding more would let one stream take the gateway's memory.
func (s *Stream) put(f frames.Frame, buf *[]byte) (kept bool) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		s.hub.drop(dropEnded, f.Type.String())
		return false
	}
	if s.queued+len(f.Body) > maxQueuedBytes || len(s.q)-s.head >= maxQueuedFrames {
		s.err = ErrOverflow
		s.drop() // the memory goes now, not when the owner wakes
		cut := s.onCut
		s.mu.Unlock()
		s.signal()
		s.hub.drop(dropOverflow, f.Type.String())
		if cut != nil {
			cut()
		}
		return false
	}
	it := item{t: f.Type, body: f.Body, buf: buf}
	if kept = buf != nil && pieces.Worth(buf, len(f.Body)); !kept {
		it.buf = pieces.Copy(f.Body)
		it.body = *it.buf
	}
	s.q = append(s.q, it)
	s.queued += len(f.Body)
	s.mu.Unlock()
	s.signal()
	return kept
}

// drop recycles what is queued; s.mu is held.
func (s *Stream) drop() {
	for _, it := range s.q[s.head:] {
		pieces.Put(it.buf)
	}
	s.q, s.head, s.queued = nil, 0, 0
}

func (s *Stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// fail ends the stream for its reader with err, unless it already ended.
func (s *Stream) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.signal()
}

// Interrupt wakes a Next blocked in another goroutine of the owner, which
// then returns ErrClosed (a WebSocket reader that saw the client leave
// stops the writer so).
func (s *Stream) Interrupt() { s.fail(ErrClosed) }

// Close takes the stream out of the registry; frames for it are dropped
// from now on. If end is set, the worker is told with an end frame that
// the stream is over (the client left, or the stream was cut). Close is
// idempotent.
func (s *Stream) Close(end bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.err == nil {
		s.err = ErrClosed
	}
	s.drop()
	s.mu.Unlock()
	s.hub.unregister(s)
	if end {
		s.Send(frames.End, nil)
	}
	s.worker.Pin(-1)
	if s.timer != nil {
		s.timer.Stop()
	}
}

// Retry moves the stream to another worker of its pool, for a worker's
// retry frame; the caller sends the request again. It fails with
// ErrNoWorker when no other worker is connected.
func (s *Stream) Retry() error {
	w := s.picker.Pick(s.worker)
	if w == nil {
		return ErrNoWorker
	}
	w.Pin(1)
	s.mu.Lock()
	old := s.worker
	s.worker = w
	s.mu.Unlock()
	old.Pin(-1)
	return nil
}

// trySender is a Worker that can send without waiting for room.
type trySender interface {
	TrySend(sid [16]byte, num uint32, t frames.Type, body []byte) error
}

// pong answers a ping, from the goroutine that delivered it: the owner
// may be moving the stream to another worker meanwhile (Retry). That
// goroutine reads a worker's frames for every stream, so it must not wait
// for room on the stream's connection: a pong that would wait is dropped
// and counted (a ping asks whether the path is alive, and it is busy).
func (s *Stream) pong() {
	s.mu.Lock()
	w := s.worker
	s.mu.Unlock()
	if t, ok := w.(trySender); ok {
		if t.TrySend(s.SID, s.Num, frames.Pong, nil) != nil {
			s.hub.drop(dropPong, "pong")
		}
		return
	}
	w.Send(s.SID, s.Num, frames.Pong, nil)
}
