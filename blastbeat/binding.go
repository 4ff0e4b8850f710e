package blastbeat

import (
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/nanogate/nanogate/internal/zmq"
	"github.com/nanogate/nanogate/protocol/frames"
)

// errLost: the request's node is gone or refused it; the hub makes it
// ErrWorkerLost (502 before the head, a cut connection after).
var errLost = errors.New("blastbeat: node lost")

// sendWait bounds how long a request-body piece waits for a dealer that
// does not read (its pipe at the high-water mark) before the request ends.
const sendWait = 30 * time.Second

// binding is one request pinned to a node: the hub.Worker its stream
// sends through. It maps nanogate's frames to BlastBeat messages and
// holds what a retry needs (the request as sent). Fields marked r.mu are
// guarded by the Router's mu; the rest belong to the stream's owner.
type binding struct {
	r     *Router
	vhost *Vhost
	done  chan struct{} // closed once the request cannot go on

	node     *node // r.mu
	failed   bool  // r.mu: done is closed
	bound    bool  // r.mu: in r.sids
	answered bool  // r.mu: the dealer sent its response head
	bodySent bool  // r.mu: a piece of request body went to the dealer
	hops     int   // r.mu: retries taken

	sid     [16]byte // nanogate's session id
	num     uint32   // the request within the session
	bbsid   [16]byte // the sid the dealer sees
	msgType []byte   // "uwsgi" or "headers"
	packet  []byte   // the request as sent, for retry
	ended   bool     // end sent

	sendMu sync.Mutex // one synchronous send at a time
	res    chan error
}

// bbSID is the sid a dealer sees for request num of session sid: the
// session id with its last four bytes XORed with num-1. The first request
// of a connection (and so every WebSocket) keeps X-Nanogate-Session as its
// sid; a later keep-alive request gets a sid of its own, so a dealer's late
// message for an earlier request can never land in a later one.
func bbSID(sid [16]byte, num uint32) [16]byte {
	x := binary.BigEndian.Uint32(sid[12:]) ^ (num - 1)
	binary.BigEndian.PutUint32(sid[12:], x)
	return sid
}

var (
	msgBody      = []byte("body")
	msgEnd       = []byte("end")
	msgWebSocket = []byte("websocket")
	msgUwsgi     = []byte("uwsgi")
	msgHeaders   = []byte("headers")
)

// Send carries one frame of the stream to its dealer as BlastBeat would:
// the request head as uwsgi (or headers), request-body pieces as body
// (BlastBeat has no end-of-body message: the empty piece that ends a body
// is not sent), the client's WebSocket messages as websocket, and end when
// the stream ends on the gateway's side. Credit, pong and WebSocket close
// have no BlastBeat message (end follows a close).
func (b *binding) Send(sid [16]byte, num uint32, t frames.Type, body []byte) error {
	switch t {
	case frames.Request:
		return b.sendRequest(sid, num, body)
	case frames.Body:
		if len(body) == 0 {
			return nil
		}
		return b.sendBody(body)
	case frames.WSText, frames.WSBinary:
		return b.enqueue(msgWebSocket, append([]byte(nil), body...))
	case frames.End:
		if b.ended || b.msgType == nil {
			return nil
		}
		b.ended = true
		return b.enqueue(msgEnd, nil)
	}
	return nil
}

func (b *binding) sendRequest(sid [16]byte, num uint32, head []byte) error {
	var err error
	if b.vhost.packet == Headers {
		b.msgType, b.packet = msgHeaders, appendHeaders(nil, head)
	} else {
		b.msgType = msgUwsgi
		if b.packet, err = appendUwsgi(make([]byte, 0, len(head)+256), head, b.vhost.serverName, b.vhost.serverPort); err != nil {
			return err // over 64 KiB of headers: the client gets 502
		}
	}
	b.sid, b.num, b.bbsid = sid, num, bbSID(sid, num)
	r := b.r
	r.mu.Lock()
	if old := r.sids[b.bbsid]; old != nil && old != b {
		old.failLocked() // a stream the front end did not close: it is over
	}
	r.sids[b.bbsid] = b
	b.bound = true
	r.mu.Unlock()
	return b.enqueue(b.msgType, b.packet)
}

// enqueue queues a message to the binding's current node; the loop sends
// it in order with everything queued before. A full queue is waited out,
// as the transport's back-pressure.
func (b *binding) enqueue(typ, body []byte) error {
	deadline := time.Now().Add(sendWait)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		b.r.mu.Lock()
		id, failed := b.node.id, b.failed
		b.r.mu.Unlock()
		if failed {
			return errLost
		}
		err := b.r.loop.Send(b.r.sock, id, b.bbsid[:], typ, body)
		if !errors.Is(err, zmq.ErrFull) {
			return err
		}
		if !b.pause(wait, deadline) {
			return errLost
		}
	}
}

// sendBody sends a piece of request body and waits until libzmq has taken
// it: the front end reads no more of the client meanwhile, so a dealer
// that reads slowly slows the upload down instead of filling memory.
func (b *binding) sendBody(body []byte) error {
	b.sendMu.Lock()
	defer b.sendMu.Unlock()
	if b.res == nil {
		b.res = make(chan error, 1)
	}
	r := b.r
	deadline := time.Now().Add(sendWait)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		r.mu.Lock()
		id, failed := b.node.id, b.failed
		b.bodySent = true
		r.mu.Unlock()
		if failed {
			return errLost
		}
		err := r.loop.Do(func() { b.res <- r.sock.SendNow(id, b.bbsid[:], msgBody, body) })
		if err == nil {
			select {
			case err = <-b.res:
			case <-r.loop.Done():
				return zmq.ErrClosed
			}
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, zmq.ErrFull), zmq.IsAgain(err):
			if !b.pause(wait, deadline) {
				r.mu.Lock()
				b.failLocked()
				r.mu.Unlock()
				return errLost
			}
		default:
			r.refused(r.sock, [][]byte{id, b.bbsid[:]}, err)
			return err
		}
	}
}

// pause waits d, or less when the binding fails; false past the deadline
// or on failure.
func (b *binding) pause(d time.Duration, deadline time.Time) bool {
	if time.Now().Add(d).After(deadline) {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.done:
		return false
	}
}

// Done is closed when the request's node is gone or refused it.
func (b *binding) Done() <-chan struct{} { return b.done }

// Pin(-1) is the stream's end: the sid leaves the table and the node's
// count. The pin itself was taken by Pick, so that two requests picking
// at once see each other's load.
func (b *binding) Pin(delta int) {
	if delta >= 0 {
		return
	}
	r := b.r
	r.mu.Lock()
	if b.bound && r.sids[b.bbsid] == b {
		delete(r.sids, b.bbsid)
	}
	b.bound = false
	b.node.unpin(b)
	r.mu.Unlock()
}

// failLocked ends the request; r.mu is held.
func (b *binding) failLocked() {
	if !b.failed {
		b.failed = true
		close(b.done)
	}
}
