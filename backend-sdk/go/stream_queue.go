package worker

import (
	"errors"
	"sync"
	"time"

	"github.com/nanogate/nanogate/internal/pieces"
	"github.com/nanogate/nanogate/protocol/frames"
)

// errStalled ends a stream whose handler left its queue full for the
// stall limit: the frames behind it on the gateway's connection (other
// streams' bodies, credit, end) must not wait forever.
var errStalled = errors.New("worker: stream cut: its handler stopped reading its request body or messages")

// defaultStallLimit is how long the PULL reader waits for room in one
// stream's queue before it cuts that stream. The wait is the protocol's
// back-pressure (docs/PROTOCOL.md, flow control, gateway to worker), but
// every stream of the connection waits with it, including the credit
// frames that a handler blocked in Write is waiting for: a full-duplex
// handler whose client reads slowly would otherwise deadlock the
// connection.
const defaultStallLimit = 30 * time.Second

// item is one queued frame body for the handler: a piece of the request
// body or a WebSocket message.
type item struct {
	t    frames.Type
	data []byte
	buf  *[]byte // data's pooled backing (body pieces only), for recycle; nil otherwise
}

// newItem holds data, which is in buf, the PULL reader's buffer (package
// pieces): a body piece that is most of buf is kept in it, and kept says
// so; other data is copied, a body piece into a lent buffer, given back
// once read.
func newItem(t frames.Type, data []byte, buf *[]byte) (it item, kept bool) {
	if t != frames.Body || len(data) == 0 {
		return item{t: t, data: append([]byte(nil), data...)}, false
	}
	if buf != nil && pieces.Worth(buf, len(data)) {
		return item{t: t, data: data, buf: buf}, true
	}
	bp := pieces.Copy(data)
	return item{t: t, data: *bp, buf: bp}, false
}

// recycle gives a body piece's buffer back once its reader is done with it.
func (it item) recycle() { pieces.Put(it.buf) }

// queue holds the frames of one stream between the PULL reader, which puts,
// and the handler, which takes. It is bounded in items and bytes; a put
// that does not fit waits for the handler (one item is always accepted, so
// a message larger than the byte bound still passes).
type queue struct {
	maxItems, maxBytes int

	mu     sync.Mutex
	items  []item
	head   int   // items[head:] are queued
	bytes  int   // bytes queued
	err    error // set once nothing more will be put; takes return it when empty
	closed bool  // the handler is gone: puts are dropped

	readable chan struct{} // capacity 1: something was put, or err set
	writable chan struct{} // capacity 1: something was taken, or the queue closed
}

func newQueue(maxItems, maxBytes int) *queue {
	return &queue{maxItems: maxItems, maxBytes: maxBytes,
		readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// put queues data (see newItem; kept says whether buf was kept). It waits while the queue is full, until the handler
// takes something, stop is closed (the stream ended) or limit passes; it
// returns errStalled in the last case, nil otherwise (queued or dropped).
func (q *queue) put(t frames.Type, data []byte, buf *[]byte, stop <-chan struct{}, limit time.Duration) (kept bool, err error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		q.mu.Lock()
		if q.closed || q.err != nil {
			q.mu.Unlock()
			return false, nil
		}
		n := len(q.items) - q.head
		if n == 0 || n < q.maxItems && q.bytes+len(data) <= q.maxBytes {
			if q.head > 0 && q.head >= len(q.items)/2 {
				// Slide the queued items to the front, so that a queue
				// that never empties does not grow its array forever.
				m := copy(q.items, q.items[q.head:])
				clear(q.items[m:])
				q.items, q.head = q.items[:m], 0
			}
			it, kept := newItem(t, data, buf)
			q.items = append(q.items, it)
			q.bytes += len(data)
			q.mu.Unlock()
			signal(q.readable)
			return kept, nil
		}
		q.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(limit)
		}
		select {
		case <-q.writable:
		case <-stop:
			return false, nil
		case <-timer.C:
			return false, errStalled
		}
	}
}

// take returns the next item, waiting for one; once the queue is empty and
// failed, it returns the error given to fail.
func (q *queue) take() (item, error) {
	for {
		q.mu.Lock()
		if q.head < len(q.items) {
			it := q.items[q.head]
			q.items[q.head] = item{}
			q.head++
			q.bytes -= len(it.data)
			q.mu.Unlock()
			signal(q.writable)
			return it, nil
		}
		err := q.err
		q.mu.Unlock()
		if err != nil {
			signal(q.readable) // for another reader waiting: err is for good
			return item{}, err
		}
		<-q.readable
	}
}

// fail ends the queue: what is queued can still be taken, then takes
// return err. The first error wins.
func (q *queue) fail(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	signal(q.readable)
}

// close drops what is queued and every later put: the handler is gone.
func (q *queue) close(err error) {
	q.mu.Lock()
	q.closed = true
	if q.err == nil {
		q.err = err
	}
	clear(q.items)
	q.items, q.head, q.bytes = nil, 0, 0
	q.mu.Unlock()
	signal(q.readable)
	signal(q.writable)
}

// window counts the body bytes a stream may still send (docs/PROTOCOL.md,
// flow control): frames.Window at first, plus every credit frame.
type window struct {
	mu    sync.Mutex
	avail int64
	more  chan struct{} // capacity 1: credit arrived
}

func newWindow() *window { return &window{avail: frames.Window, more: make(chan struct{}, 1)} }

// maxAvail caps the window, so that a peer's credits cannot overflow it.
const maxAvail = 1 << 50

func (w *window) add(n int) {
	w.mu.Lock()
	w.avail = min(w.avail+int64(n), maxAvail)
	w.mu.Unlock()
	signal(w.more)
}

// take waits until atLeast bytes of the window are open (atLeast must
// not exceed frames.Window, or it could wait forever), then takes as much
// as is open, up to n. It returns early when ended is closed, with the
// error why returns.
func (w *window) take(atLeast, n int, ended <-chan struct{}, why func() error) (int, error) {
	for {
		w.mu.Lock()
		if w.avail >= int64(max(atLeast, 1)) {
			got := int(min(w.avail, int64(n)))
			w.avail -= int64(got)
			w.mu.Unlock()
			return got, nil
		}
		w.mu.Unlock()
		select {
		case <-w.more:
		case <-ended:
			return 0, why()
		}
	}
}
