// Package hub is the gateway's side of session frames (docs/PROTOCOL.md,
// format frames): the registry of live streams keyed by session id, the
// inbound PULL socket that delivers frames from workers and any other
// process to them, and the pools of PUSH sockets that carry each stream's
// frames to the worker that took it.
//
// Ownership: a Hub owns its inbound socket and its registry; a Pool owns
// its PUSH sockets; a Stream is owned by the front-end goroutine that
// opened it, which must Close it. The inbound readers only append to a
// stream's bounded queue, so a slow client never blocks them: a stream
// whose queue overflows is cut instead.
package hub

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanogate/nanogate/internal/sp"
	"github.com/nanogate/nanogate/protocol/frames"
)

// Error is the type of this package's sentinel errors.
type Error string

func (e Error) Error() string { return string(e) }

const (
	// ErrNoWorker: no endpoint of the pool has a connected worker (503).
	ErrNoWorker = Error("hub: no worker connected")
	// ErrWorkerLost: the connection to the stream's worker ended (502, or
	// a cut stream once the response has started).
	ErrWorkerLost = Error("hub: worker connection lost mid-stream")
	// ErrIdle: no frame arrived within the wait (504 before the response
	// head, a cut stream after).
	ErrIdle = Error("hub: stream idle past its timeout")
	// ErrOverflow: the worker sent more than the stream's window, or the
	// client did not read it (the stream is cut).
	ErrOverflow = Error("hub: stream queue full (client not reading, or worker past its credit)")
	// ErrClosed: the stream or the hub was closed.
	ErrClosed = Error("hub: stream closed")
)

// Config shapes a Hub.
type Config struct {
	Inbound     string       // tcp:// or ipc:// address to bind the PULL socket on; zero: none (frames arrive only through Deliver)
	MaxRecvSize int          // largest frame accepted; zero: 64 MiB
	Logger      *slog.Logger // zero: slog.Default()
}

// Hub is the registry of live streams and their inbound socket.
type Hub struct {
	log    *slog.Logger
	pull   *sp.Pull
	shards [64]shard
	drops  [numDrops]atomic.Uint64
	logged atomic.Int64 // UnixNano of the last drop report
}

type shard struct {
	mu sync.Mutex
	m  map[[16]byte]*Stream
}

// Why frames are dropped, for the counters and the log.
const (
	dropMalformed = iota
	dropUnknown
	dropEnded
	dropOverflow
	dropPong // a pong not sent: its worker's connection was full or gone
	numDrops
)

var dropNames = [numDrops]string{"malformed", "unknown_session", "ended_stream", "overflow", "pong_unsent"}

// New binds the inbound address and starts delivering frames.
func New(c Config) (*Hub, error) {
	h := &Hub{log: c.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	for i := range h.shards {
		h.shards[i].m = make(map[[16]byte]*Stream)
	}
	if c.Inbound == "" {
		return h, nil
	}
	pull, err := sp.NewPull(sp.LinkConfig{URL: c.Inbound, Listen: true, MaxRecvSize: c.MaxRecvSize, Logger: h.log}, h.deliver)
	if err != nil {
		return nil, err
	}
	h.pull = pull
	return h, nil
}

// Close stops the inbound socket; streams still open see no more frames
// from it.
func (h *Hub) Close() error {
	if h.pull == nil {
		return nil
	}
	return h.pull.Close()
}

// Drops reports the frames dropped so far, by reason.
func (h *Hub) Drops() map[string]uint64 {
	out := make(map[string]uint64, numDrops)
	for i := range h.drops {
		out[dropNames[i]] = h.drops[i].Load()
	}
	return out
}

// Live is the number of open streams.
func (h *Hub) Live() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

func (h *Hub) shard(sid [16]byte) *shard { return &h.shards[sid[0]%64] }

// deliver runs on the inbound readers, one per pushing peer. It keeps the
// message's buffer when the frame's body is queued in it.
func (h *Hub) deliver(msg *[]byte) (kept bool) {
	f, err := frames.Parse(*msg)
	if err != nil {
		h.Malformed(err.Error())
		return false
	}
	return h.deliverIn(f, msg)
}

// Malformed counts a message from a worker that is not a frame (detail
// says why, for the rate-limited log line).
func (h *Hub) Malformed(detail string) { h.drop(dropMalformed, detail) }

// Deliver hands a frame from a worker, or any process, to its stream: the
// hub's own inbound socket does, and so do other transports (a BlastBeat
// ROUTER, ZHTTP sockets). A frame for an unknown session or an ended
// stream is dropped and counted; a ping is answered with a pong on the
// stream's worker. f.Body is copied; the caller keeps it.
func (h *Hub) Deliver(f frames.Frame) { h.deliverIn(f, nil) }

// deliverIn is Deliver, given the buffer f.Body is in if the stream may
// keep it (nil: copy); it reports whether it was kept.
func (h *Hub) deliverIn(f frames.Frame, buf *[]byte) (kept bool) {
	sh := h.shard(f.SID)
	sh.mu.Lock()
	st := sh.m[f.SID]
	sh.mu.Unlock()
	switch {
	case (st == nil || f.Stream != 0 && f.Stream != st.Num) && (f.Type == frames.End || f.Type == frames.Credit):
		// A worker's end after a response the gateway already saw
		// complete (its Content-Length reached, the client gone): news
		// to no one, and not worth counting with the strays.
	case st == nil:
		h.drop(dropUnknown, f.Type.String())
	case f.Stream != 0 && f.Stream != st.Num:
		h.drop(dropEnded, f.Type.String())
	case f.Type == frames.Ping:
		st.pong()
	default:
		return st.put(f, buf)
	}
	return false
}

// dropReportEvery bounds the drop log: one line per interval at most, with
// the counts, so that a flood of stray frames cannot flood the log.
const dropReportEvery = 10 * time.Second

func (h *Hub) drop(reason int, detail string) {
	h.drops[reason].Add(1)
	now := time.Now().UnixNano()
	last := h.logged.Load()
	if now-last < int64(dropReportEvery) || !h.logged.CompareAndSwap(last, now) {
		return
	}
	h.log.Info("dropped session frames", "last_reason", dropNames[reason], "last", detail,
		"malformed", h.drops[dropMalformed].Load(), "unknown_session", h.drops[dropUnknown].Load(),
		"ended_stream", h.drops[dropEnded].Load(), "overflow", h.drops[dropOverflow].Load(),
		"pong_unsent", h.drops[dropPong].Load())
}

// register makes st the live stream of its session, ending any stream the
// session still had (a front end that forgot to Close one).
func (h *Hub) register(st *Stream) {
	sh := h.shard(st.SID)
	sh.mu.Lock()
	old := sh.m[st.SID]
	sh.m[st.SID] = st
	sh.mu.Unlock()
	if old != nil {
		old.fail(ErrClosed)
	}
}

func (h *Hub) unregister(st *Stream) {
	sh := h.shard(st.SID)
	sh.mu.Lock()
	if sh.m[st.SID] == st {
		delete(sh.m, st.SID)
	}
	sh.mu.Unlock()
}
