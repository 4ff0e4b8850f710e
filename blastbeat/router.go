package blastbeat

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanogate/nanogate/hub"
	"github.com/nanogate/nanogate/internal/zmq"
	"github.com/nanogate/nanogate/protocol/frames"
)

// Config shapes a Router.
type Config struct {
	// Bind is the ROUTER's address (tcp://, ipc://, inproc://); required.
	Bind string
	// Hub receives the dealers' frames (Hub.Deliver); required.
	Hub *hub.Hub
	// PingEvery is BlastBeat's ping-freq: every node is pinged this often,
	// and one unheard for three periods gets no new session. Zero: 1s
	// (BlastBeat's 3s would take 9s to notice a stuck node).
	PingEvery time.Duration
	// MaxHops is BlastBeat's max-hops: the retry messages one request may
	// take; past it the client gets 502. Zero: 10, BlastBeat's default.
	MaxHops int
	// MaxMessage caps one message from a dealer; libzmq disconnects a
	// dealer past it. Zero: 8 MiB, BlastBeat's writequeue-buffer.
	MaxMessage int64
	Logger     *slog.Logger // zero: slog.Default()
}

// Router is one ZeroMQ ROUTER that BlastBeat dealers connect to with a
// DEALER whose identity names their node. It owns the socket (on its
// Loop's goroutine), the nodes' health and the table of live BlastBeat
// sids; it is closed with Close.
type Router struct {
	cfg  Config
	log  *slog.Logger
	hub  *hub.Hub
	loop *zmq.Loop
	sock *zmq.Socket
	addr string

	mu    sync.Mutex
	nodes map[string]*node      // by identity
	order []*node               // in configuration order, for the pinger
	sids  map[[16]byte]*binding // by BlastBeat sid
	stop  chan struct{}         // closed by Close: the pinger stops
	wg    sync.WaitGroup        // the loop and the pinger
	once  sync.Once

	drops  [numDrops]atomic.Uint64
	logged atomic.Int64 // UnixNano of the last drop report
}

// Why dealer messages are dropped, for Stats and the log.
const (
	dropMalformed   = iota // not [identity, sid, type, body]
	dropUnknownNode        // an identity no virtual host names
	dropUnknownType        // a type nanogate does not carry (or routed "group:type")
	dropUnknownSID         // no live request has that sid
	dropForeignSID         // the sid lives on another node
	dropRefused            // libzmq refused a send (dealer at its high-water mark)
	numDrops
)

var dropNames = [numDrops]string{"malformed", "unknown_node", "unknown_type", "unknown_sid", "foreign_sid", "refused"}

var (
	msgPing = []byte("ping")
	msgPong = []byte("pong")
)

// New binds the ROUTER and starts its loop and its pinger.
func New(c Config) (*Router, error) {
	if c.Hub == nil || c.Bind == "" {
		return nil, errors.New("blastbeat: Config needs Bind and Hub")
	}
	if c.PingEvery <= 0 {
		c.PingEvery = time.Second
	}
	if c.MaxHops <= 0 {
		c.MaxHops = 10
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = 8 << 20
	}
	r := &Router{cfg: c, log: c.Logger, hub: c.Hub, nodes: map[string]*node{}, sids: map[[16]byte]*binding{}, stop: make(chan struct{})}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("blastbeat", c.Bind)
	loop, err := zmq.NewLoop("blastbeat "+c.Bind, r.refused)
	if err != nil {
		return nil, err
	}
	// Mandatory: a send to a dealer that has gone fails, which is how a
	// dead node is noticed at the next ping. Handover: a restarted dealer
	// takes its identity back at once. The high-water marks bound what
	// libzmq holds per dealer (messages, each at most a 256 KiB body piece
	// or one WebSocket message).
	sock, err := loop.Socket(zmq.Router, zmq.Options{RouterMandatory: true, RouterHandover: true,
		SndHWM: 1000, RcvHWM: 1000, MaxMsgSize: c.MaxMessage}, r.receive)
	if err == nil {
		err = sock.Bind(c.Bind)
	}
	if err != nil {
		loop.Close()
		return nil, err
	}
	r.loop, r.sock, r.addr = loop, sock, sock.Endpoint()
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		if err := loop.Run(); err != nil {
			r.log.Error("blastbeat router stopped", "err", err)
			r.failAll()
		}
	}()
	go func() {
		defer r.wg.Done()
		r.pinger()
	}()
	return r, nil
}

// Endpoint is the bound address, with a port chosen by the system filled in.
func (r *Router) Endpoint() string { return r.addr }

// Close stops the pinger and the loop; live requests see their node gone.
func (r *Router) Close() error {
	r.once.Do(func() { close(r.stop) })
	r.loop.Close()
	r.wg.Wait()
	r.failAll()
	return nil
}

// failAll ends every live request: the router is gone.
func (r *Router) failAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.order {
		n.lose(r.log, "router closed")
	}
}

// node returns the node named name, making it if needed; r.mu is held.
func (r *Router) nodeLocked(name string) *node {
	n := r.nodes[name]
	if n == nil {
		n = &node{name: name, id: []byte(name), pinned: map[*binding]struct{}{}}
		r.nodes[name] = n
		r.order = append(r.order, n)
	}
	return n
}

// receive handles one message from a dealer, on the loop's goroutine:
// [identity, sid, type, body]. Nothing a dealer sends can reach a request
// that is not its own: the sid must be live and pinned to that dealer.
func (r *Router) receive(parts [][]byte) {
	if len(parts) != 4 {
		id := []byte(nil)
		if len(parts) > 0 {
			id = parts[0]
		}
		r.drop(dropMalformed, string(id), "parts", len(parts))
		return
	}
	id, sid, typ, body := parts[0], parts[1], parts[2], parts[3]
	r.mu.Lock()
	n := r.nodes[string(id)]
	if n == nil {
		r.mu.Unlock()
		r.drop(dropUnknownNode, string(id), "type", string(typ))
		return
	}
	// Any message is a sign of life, as in BlastBeat.
	n.seen(r.log, time.Now())
	r.mu.Unlock()
	switch string(typ) {
	case "pong":
		return
	case "ping":
		r.sock.SendNow(id, sid, msgPong, nil)
		return
	}
	t, ok := dealerTypes[string(typ)]
	if !ok {
		r.drop(dropUnknownType, n.name, "type", string(typ))
		return
	}
	var key [16]byte
	if len(sid) != len(key) {
		r.drop(dropUnknownSID, n.name, "type", string(typ))
		return
	}
	copy(key[:], sid)
	r.mu.Lock()
	b := r.sids[key]
	switch {
	case b == nil:
		r.mu.Unlock()
		if t != frames.Close {
			// A late end after a response the gateway saw complete is
			// no one's news; anything else is counted.
			r.drop(dropUnknownSID, n.name, "type", string(typ))
		}
		return
	case b.node != n:
		r.mu.Unlock()
		r.drop(dropForeignSID, n.name, "type", string(typ))
		return
	case t == frames.Retry:
		r.retryLocked(b)
		r.mu.Unlock()
		return
	case t == frames.Headers:
		b.answered = true
	}
	sessionID, num := b.sid, b.num
	r.mu.Unlock()
	r.hub.Deliver(frames.Frame{SID: sessionID, Type: t, Stream: num, Body: body})
}

// dealerTypes maps what a dealer may send to nanogate frames. BlastBeat's
// end closes the client's connection (src/zmq.c, bb_wq_push_close), which
// is nanogate's close; its websocket messages are always text.
var dealerTypes = map[string]frames.Type{
	"headers":   frames.Headers,
	"body":      frames.Body,
	"chunk":     frames.Chunk,
	"end":       frames.Close,
	"websocket": frames.WSText,
	"retry":     frames.Retry,
}

// retryLocked gives b's request to the least loaded other available node
// of its virtual host (the same node when it is the only one), as
// BlastBeat does: the stored request is sent again under the same sid.
// Past MaxHops, after the response head, or with a body already sent
// (BlastBeat would resend the head alone), the client gets 502 instead.
// r.mu is held.
func (r *Router) retryLocked(b *binding) {
	reason := ""
	switch {
	case b.answered:
		reason = "retry after the response head"
	case b.bodySent:
		reason = "retry of a request whose body was streamed"
	case b.hops >= r.cfg.MaxHops:
		reason = "retry past max-hops"
	}
	next := b.vhost.pickLocked(b.node)
	if next == nil {
		next = b.node
		if !next.up {
			reason = "retry with no node available"
		}
	}
	if reason != "" {
		r.log.Warn("blastbeat retry refused", "node", b.node.name, "reason", reason, "hops", b.hops)
		b.failLocked()
		return
	}
	b.hops++
	b.node.unpin(b)
	next.pin(b)
	if err := r.sock.SendNow(next.id, b.bbsid[:], b.msgType, b.packet); err != nil {
		r.refusedLocked(next, b.bbsid[:], err)
	}
}

// refused is told by the loop of a send libzmq refused: a dealer that has
// gone (its node is lost: its requests end) or one at its high-water mark
// (that request cannot go on whole: it ends).
func (r *Router) refused(_ *zmq.Socket, parts [][]byte, err error) {
	if len(parts) < 2 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.nodes[string(parts[0])]; n != nil {
		r.refusedLocked(n, parts[1], err)
	}
}

// refusedLocked is refused for node n and sid; r.mu is held.
func (r *Router) refusedLocked(n *node, sid []byte, err error) {
	if zmq.IsHostUnreachable(err) {
		n.lose(r.log, "disconnected")
		return
	}
	var key [16]byte
	copy(key[:], sid)
	if b := r.sids[key]; b != nil && b.node == n {
		b.failLocked()
	}
	r.dropLocked(dropRefused, n.name, err)
}

// pinger pings every node each PingEvery, with BlastBeat's empty sid, and
// takes nodes unheard for three periods out of the choice for new
// sessions.
func (r *Router) pinger() {
	t := time.NewTicker(r.cfg.PingEvery)
	defer t.Stop()
	for {
		r.mu.Lock()
		now := time.Now()
		for _, n := range r.order {
			n.check(r.log, now, 3*r.cfg.PingEvery)
			if err := r.loop.Send(r.sock, n.id, nil, msgPing, nil); err != nil && !errors.Is(err, zmq.ErrFull) {
				r.mu.Unlock()
				return // closed
			}
		}
		r.mu.Unlock()
		select {
		case <-t.C:
		case <-r.stop:
			return
		}
	}
}

// dropReportEvery bounds the drop log to one line per interval, with the
// counts, so that a dealer flooding bad messages cannot flood the log.
const dropReportEvery = 10 * time.Second

func (r *Router) drop(reason int, node string, detail ...any) {
	r.drops[reason].Add(1)
	now := time.Now().UnixNano()
	last := r.logged.Load()
	if now-last < int64(dropReportEvery) || !r.logged.CompareAndSwap(last, now) {
		return
	}
	args := []any{"last_reason", dropNames[reason], "node", node}
	args = append(args, detail...)
	for i := range r.drops {
		args = append(args, dropNames[i], r.drops[i].Load())
	}
	r.log.Warn("dropped blastbeat messages", args...)
}

// dropLocked is drop with r.mu held (the log takes no lock of ours).
func (r *Router) dropLocked(reason int, node string, err error) { r.drop(reason, node, "err", err) }

// Stats are a router's counters.
type Stats struct {
	Drops map[string]uint64 // by reason
	Nodes []NodeStats
}

// NodeStats is one node's state.
type NodeStats struct {
	Name     string
	Up       bool // answering: gets new sessions
	Sessions int  // requests pinned to it now
}

// Stats reports the drops by reason and every node.
func (r *Router) Stats() Stats {
	s := Stats{Drops: make(map[string]uint64, numDrops)}
	for i := range r.drops {
		s.Drops[dropNames[i]] = r.drops[i].Load()
	}
	r.mu.Lock()
	for _, n := range r.order {
		s.Nodes = append(s.Nodes, NodeStats{Name: n.name, Up: n.up, Sessions: len(n.pinned)})
	}
	r.mu.Unlock()
	return s
}
