package zclient

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanogate/nanogate/internal/zmq"
	"github.com/nanogate/nanogate/protocol/frames"
	"github.com/nanogate/nanogate/protocol/zhttp"
)

// Why a request ends early; logged, and seen by the client as 502 (or a
// cut body once its response has started).
var (
	errClosed        = errors.New("zhttp: gateway closing")
	errNoHandler     = errors.New("zhttp: no handler took the request (none connected, or all full)")
	errHandlerGone   = errors.New("zhttp: the handler went away")
	errSilent        = errors.New("zhttp: the handler sent nothing within the session timeout")
	errHandlerCancel = errors.New("zhttp: the handler cancelled the request")
	errHandlerError  = errors.New("zhttp: the handler answered with an error packet")
	errBadSeq        = errors.New("zhttp: the handler's packet is out of sequence")
	errBadResponse   = errors.New("zhttp: the handler's response head is not valid")
	errQueueFull     = errors.New("zhttp: send queue full")
	errUnsupported   = errors.New("zhttp: frame type not carried over ZHTTP")
)

// conn is one request in stream mode and its hub.Worker. Its handler is
// not known until one answers: the first packet goes out on PUSH, and the
// "from" of the answers names the handler later packets go to.
type conn struct {
	s    *Stream
	done chan struct{} // closed when the request fails (Worker.Done)
	wake chan struct{} // credits arrived, or the handler became known
	once sync.Once
	pins atomic.Int32

	mu       sync.Mutex
	sid      [16]byte
	num      uint32
	id       []byte
	to       []byte // the handler's address; nil until it answers
	reached  bool   // a send to `to` went through: it was connected
	outSeq   int64  // our next seq
	inSeq    int64  // the handler's next seq
	credits  int64  // request body bytes we may send
	started  bool   // the handler's first data packet came
	finished bool   // the handler's last data packet came (no more)
	handoff  bool   // the handler asked for a handoff; hold packets until it resumes
	pending  *zhttp.Packet
	head     []byte // the request head pending refers to
	left     int64  // body bytes announced and not yet sent; -1 none or chunked
	ended    bool   // our request body is complete
	heard    atomic.Int64
	said     int64 // UnixNano of our last packet to the handler

	ws       bool   // a WebSocket session (websocket.go)
	wsMsg    []byte // a handler's message so far, while its packets say more
	wsBinary bool   // that message is binary
}

// Done is closed when the request failed (hub.Worker).
func (c *conn) Done() <-chan struct{} { return c.done }

// Pin counts the hub's use of the request; at zero the stream has closed
// and the request leaves the table.
func (c *conn) Pin(delta int) {
	if c.pins.Add(int32(delta)) == 0 && delta < 0 && c.id != nil {
		c.s.unregister(c)
	}
}

// Send carries one frame of the front end to the handler (hub.Worker). It
// runs on the front end's goroutine; a request body waits here for the
// handler's credits.
func (c *conn) Send(sid [16]byte, num uint32, t frames.Type, body []byte) error {
	select {
	case <-c.done:
		return errHandlerGone
	default:
	}
	switch t {
	case frames.Request:
		return c.start(sid, num, body)
	case frames.Body:
		return c.body(body)
	case frames.Credit:
		n, err := strconv.ParseInt(string(body), 10, 32)
		if err != nil || n <= 0 {
			return nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.to == nil || c.finished || c.handoff {
			return nil
		}
		return c.sendLocked(&zhttp.Packet{Type: zhttp.Credit, Credits: n})
	case frames.End:
		c.cancel(false)
		return nil
	case frames.WSText, frames.WSBinary:
		if c.ws {
			return c.wsSend(t, body)
		}
	case frames.WSClose:
		if c.ws {
			return c.wsClose(body)
		}
	case frames.Pong:
		return nil
	}
	return errUnsupported
}

// start takes the request head. A request without a body goes out at
// once; one with a body waits for its first piece, which rides in the
// first packet (spec 33: the initiator may send body data without
// credits in its first message).
func (c *conn) start(sid [16]byte, num uint32, head []byte) error {
	p := packets.Get().(*zhttp.Packet) // its header slice is reused
	defer func() { p.Reset(); packets.Put(p) }()
	r, _, err := zhttp.FromHead(p, head, nil)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sid, c.num = sid, num
	c.id = appendID(make([]byte, 0, 48), sid, num)
	c.inSeq = 0
	c.heard.Store(time.Now().UnixNano())
	p.From, p.Multi, p.Stream, p.Credits = c.s.id, true, true, frames.Window
	p.IDs = append(p.IDs, zhttp.ID{ID: c.id, Seq: 0})
	if c.s.cfg.WebSocket && isUpgrade(p) {
		c.ws, p.URI = true, wsURI(p.URI)
	}
	c.left = r.ContentLength
	c.s.register(c)
	if !r.Framed() {
		c.ended = true
		return c.first(p)
	}
	// The packet waits for the body's first piece: keep the head it
	// points into (the caller's buffer is reused).
	c.head = append([]byte(nil), head...)
	q := &zhttp.Packet{}
	if _, _, err := zhttp.FromHead(q, c.head, nil); err != nil {
		return err
	}
	q.From, q.Multi, q.Stream, q.Credits, q.IDs = p.From, true, true, frames.Window, []zhttp.ID{{ID: c.id, Seq: 0}}
	c.pending = q
	return nil
}

// packets are the first packets' scratch: FromHead fills one, first
// encodes it, and it comes back.
var packets = sync.Pool{New: func() any { return new(zhttp.Packet) }}

// first sends the first packet on PUSH; c.mu is held.
func (c *conn) first(p *zhttp.Packet) error {
	c.outSeq = 1
	c.said = time.Now().UnixNano()
	msg := packet(p)
	c.pending, c.head = nil, nil
	return c.s.do(func() { c.s.push1(c, msg, 0) })
}

// First packets refused at the PUSH's high-water mark (libzmq can refuse
// a burst for a moment before the handlers' credit comes back) are tried
// again this often, up to pushRetries times, before the request fails;
// with no handler connected at all the client gets its 502 after that.
const (
	pushRetryEvery = 2 * time.Millisecond
	pushRetries    = 25
)

// push1 sends a first packet on the loop's goroutine.
func (s *Stream) push1(c *conn, msg []byte, attempt int) {
	err := s.push.SendNow(msg)
	if err == nil {
		return
	}
	if zmq.IsAgain(err) && attempt < pushRetries && !s.closed.Load() {
		time.AfterFunc(pushRetryEvery, func() {
			if s.do(func() { s.push1(c, msg, attempt+1) }) != nil {
				c.fail(errNoHandler, false)
			}
		})
		return
	}
	s.count(dropNoHandler, "request", string(c.id))
	c.fail(errNoHandler, false)
}

// body sends a piece of the request body; an empty piece ends it.
func (c *conn) body(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return nil
	}
	if p := c.pending; p != nil {
		p.Body = b
		last := len(b) == 0 || c.left >= 0 && int64(len(b)) >= c.left
		p.More = !last
		c.ended = last
		if c.left >= 0 {
			c.left -= int64(len(b))
		}
		return c.first(p)
	}
	for {
		if c.finished {
			// The handler has answered whole: the rest of the body is
			// no one's (Condure too stops reading it).
			c.ended = len(b) == 0
			return nil
		}
		n := int64(len(b))
		if n == 0 && c.to != nil && !c.handoff {
			c.ended = true
			return c.sendLocked(&zhttp.Packet{})
		}
		if n > 0 && c.to != nil && !c.handoff && c.credits > 0 {
			n = min(n, c.credits)
			c.credits -= n
			if c.left >= 0 {
				c.left -= n
			}
			more := int64(len(b)) > n || c.left != 0
			if err := c.sendLocked(&zhttp.Packet{Body: b[:n], More: more}); err != nil {
				return err
			}
			if !more {
				c.ended = true
			}
			if b = b[n:]; len(b) == 0 {
				return nil
			}
			continue
		}
		if !c.waitLocked() {
			return errHandlerGone
		}
	}
}

// waitLocked waits, without c.mu, for news from the handler (credits, its
// address, an answer); false when the request has failed. c.mu is held
// again on return.
func (c *conn) waitLocked() bool {
	c.mu.Unlock()
	defer c.mu.Lock()
	select {
	case <-c.wake:
		return true
	case <-c.done:
		return false
	}
}

// sendLocked sends p to the handler over the ROUTER with the request's id
// and next seq; c.mu is held (so seqs leave in order).
func (c *conn) sendLocked(p *zhttp.Packet) error {
	p.From = c.s.id
	p.IDs = []zhttp.ID{{ID: c.id, Seq: c.outSeq}}
	c.outSeq++
	c.said = time.Now().UnixNano()
	return c.s.sendTo(c, c.to, packet(p))
}

// cancel tells the handler the request is over on the gateway's side (the
// client left, the stream was cut, the handler's packets made no sense),
// unless its response already ended (force: even then).
func (c *conn) cancel(force bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.to == nil || c.finished && !force {
		return
	}
	c.finished = true
	c.sendLocked(&zhttp.Packet{Type: zhttp.Cancel})
}

// fail ends the request for the front end: Next returns hub.ErrWorkerLost
// once the frames already delivered are read (502, or a cut body). With
// cancel, the handler is told too.
func (c *conn) fail(err error, cancel bool) {
	c.once.Do(func() {
		c.s.log.Info("zhttp request ended", "id", string(c.id), "err", err)
		if cancel {
			c.cancel(true)
		}
		close(c.done)
	})
}

// signal wakes a body send waiting for credits.
func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// do queues fn on the loop; a full queue fails the caller rather than
// waiting.
func (s *Stream) do(fn func()) error {
	if err := s.loop.Do(fn); err != nil {
		if errors.Is(err, zmq.ErrFull) {
			return errQueueFull
		}
		return errClosed
	}
	return nil
}

// sendTo sends msg to handler `to` over the ROUTER, as Condure does:
// [address, empty, packet]. A handler that was reached before and is now
// unknown to the ROUTER has gone: its request fails. One never reached
// (a handler that answers on PUB but never connected to the ROUTER, like
// Condure's basichandler.py) is only counted, as Condure only logs it. A
// handler at the high-water mark (10000 packets queued to it, far past
// what its credits allow) is not reading: the request fails rather than
// lose a packet and break its sequence.
func (s *Stream) sendTo(c *conn, to, msg []byte) error {
	return s.do(func() {
		err := s.out.SendNow(to, nil, msg)
		if err == nil {
			c.mu.Lock()
			c.reached = true
			c.mu.Unlock()
			return
		}
		s.count(dropUnreachable, string(to), err.Error())
		c.mu.Lock()
		gone := c.reached && zmq.IsHostUnreachable(err)
		c.mu.Unlock()
		if gone || zmq.IsAgain(err) {
			c.fail(errHandlerGone, false)
		}
	})
}
