package zclient

import (
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanogate/nanogate/bridge"
	"github.com/nanogate/nanogate/internal/zmq"
	"github.com/nanogate/nanogate/protocol/zhttp"
)

// ReqConfig shapes a Req.
type ReqConfig struct {
	// Addr is Condure's --zclient-req address: ipc://PATH or
	// tcp://HOST:PORT, used as it is.
	Addr string
	// Connect connects instead of binding (--zclient-connect).
	Connect bool
	// Timeout bounds one exchange; past it the client gets 504. Zero: 30s
	// (Condure's --req-timeout).
	Timeout time.Duration
	// MaxInFlight bounds the requests waiting for a handler; past it the
	// client gets 503. Zero: 100 (Condure's --req-maxconn).
	MaxInFlight int
	// MaxResponse caps one response packet. Zero: 64 MiB.
	MaxResponse int64
	Logger      *slog.Logger // zero: slog.Default()
}

// Req is ZHTTP's REQ ("basic") mode: one DEALER; a request is one packet
// ([empty, "T" tnetstring], so a handler's REP socket takes it), its
// answer one packet. It is a gateway.Upstream of format http: the front
// end hands it a whole request and gets a whole HTTP response back.
type Req struct {
	cfg    ReqConfig
	log    *slog.Logger
	loop   *zmq.Loop
	sock   *zmq.Socket
	seq    atomic.Uint64
	closed atomic.Bool
	done   chan struct{} // the loop has stopped

	mu      sync.Mutex
	waiting map[uint64]chan []byte // by request id

	drops
}

// NewReq makes and binds (or connects) the DEALER and starts its loop.
func NewReq(c ReqConfig) (*Req, error) {
	c.Timeout = orDefault(c.Timeout, 30*time.Second)
	c.MaxInFlight = orDefault(c.MaxInFlight, 100)
	c.MaxResponse = orDefault(c.MaxResponse, 64<<20)
	r := &Req{cfg: c, log: c.Logger, waiting: map[uint64]chan []byte{}, done: make(chan struct{})}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("zhttp_req", c.Addr)
	r.drops.log = r.log
	var err error
	if r.loop, err = zmq.NewLoop("zhttp req "+c.Addr, nil); err != nil {
		return nil, err
	}
	r.sock, err = r.loop.Socket(zmq.Dealer, zmq.Options{MaxMsgSize: c.MaxResponse, SndHWM: 128}, r.receive)
	if err == nil {
		if c.Connect {
			err = r.sock.Connect(c.Addr)
		} else {
			err = r.sock.Bind(c.Addr)
		}
	}
	if err != nil {
		r.loop.Close()
		return nil, err
	}
	go func() {
		defer close(r.done)
		if err := r.loop.Run(); err != nil {
			r.log.Error("zhttp req socket stopped", "err", err)
		}
	}()
	return r, nil
}

// Addr is the DEALER's address.
func (r *Req) Addr() string { return r.cfg.Addr }

// InFlight is the number of requests waiting for a handler's answer.
func (r *Req) InFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiting)
}

// Close stops the socket; requests waiting get 502.
func (r *Req) Close() error {
	if !r.closed.Swap(true) {
		r.loop.Close()
		<-r.done
	}
	return nil
}

var errReqClosed = errors.New("zhttp req: closed")

// RoundTrip sends msg, a request as format http encodes it (head and
// whole body), as one packet, waits for the handler's packet and appends
// the HTTP/1.1 response it makes to dst (gateway.Upstream). safe is
// ignored: a request is never sent twice.
func (r *Req) RoundTrip(dst, msg []byte, safe bool) ([]byte, error) {
	if r.closed.Load() {
		return dst, bridge.ErrClosed
	}
	id := r.seq.Add(1)
	var idb [20]byte
	p := zhttp.Packet{IDs: []zhttp.ID{{ID: strconv.AppendUint(idb[:0], id, 36), Seq: -1}}, Multi: true}
	req, _, err := zhttp.FromHead(&p, msg, nil)
	if err != nil {
		return dst, err
	}
	p.Body = req.Body
	out := packet(&p)
	ch := make(chan []byte, 1)
	r.mu.Lock()
	if len(r.waiting) >= r.cfg.MaxInFlight {
		r.mu.Unlock()
		return dst, bridge.ErrBusy
	}
	r.waiting[id] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiting, id)
		r.mu.Unlock()
	}()
	// [empty delimiter, packet]: what a REP socket expects from a DEALER.
	// With no handler connected libzmq refuses it at once: nil on ch
	// says so, and the client gets 503 instead of a wait.
	if err := r.loop.Do(func() {
		if err := r.sock.SendNow(nil, out); err != nil {
			ch <- nil
		}
	}); err != nil {
		return dst, bridge.ErrBusy
	}
	t := time.NewTimer(r.cfg.Timeout)
	defer t.Stop()
	var resp []byte
	select {
	case resp = <-ch:
		if resp == nil {
			return dst, bridge.ErrNoWorker
		}
	case <-t.C:
		return dst, bridge.ErrTimeout
	case <-r.done:
		return dst, errReqClosed
	}
	if err := zhttp.Parse(resp, &p); err != nil {
		r.count(dropMalformed, "response", err.Error())
		return dst, err
	}
	if p.Type != zhttp.Data {
		return dst, errors.New("zhttp req: the handler answered with a " + p.Type.String() + " packet: " + string(p.Condition))
	}
	p.More = false // one packet is the whole response
	if dst, err = zhttp.AppendHead(dst, &p); err != nil {
		r.count(dropBadResponse, "response", err.Error())
		return dst, err
	}
	return append(dst, p.Body...), nil
}

// receive takes a handler's answer on the loop's goroutine: [empty,
// packet]. Only the id is read here; the waiting request parses the rest.
func (r *Req) receive(parts [][]byte) {
	if len(parts) != 2 || len(parts[0]) != 0 {
		r.count(dropMalformed, "parts", "not [empty, packet]")
		return
	}
	var p zhttp.Packet
	if err := zhttp.Parse(parts[1], &p); err != nil {
		r.count(dropMalformed, "packet", err.Error())
		return
	}
	id, err := strconv.ParseUint(string(p.IDs[0].ID), 36, 64)
	r.mu.Lock()
	ch := r.waiting[id]
	r.mu.Unlock()
	if err != nil || ch == nil {
		r.count(dropUnknown, "id", string(p.IDs[0].ID))
		return
	}
	select {
	case ch <- parts[1]:
	default: // a second answer to the same id
		r.count(dropUnknown, "id", string(p.IDs[0].ID))
	}
}
