package worker

import (
	"context"
	"encoding/hex"
	"net/http"
	"sync"

	"github.com/nanogate/nanogate/internal/sp"
	"github.com/nanogate/nanogate/protocol/frames"
)

// maxFrameBody is the most body one frame carries, as the gateway's own
// body frames (docs/PROTOCOL.md, format frames, types).
const maxFrameBody = 256 << 10

// stream is one request of a session, from its request frame until its
// handler has returned and its reply is sent. The PULL reader puts the
// gateway's frames in; the handler's goroutine (and a WebSocket's writers)
// send the reply.
type stream struct {
	key      streamKey
	srv      *StreamServer
	push     *sp.Push // to the inbound address the request named
	ctx      context.Context
	cancel   context.CancelFunc
	in       *queue  // request body pieces, or WebSocket messages
	win      *window // body bytes the reply may still send
	wantBody bool    // body frames are expected, for r.Body

	ended   chan struct{} // closed by end: send nothing more
	endOnce sync.Once
	endErr  error // why, set before ended is closed

	sendMu sync.Mutex // one frame at a time, in order
	hdr    []byte     // frame header scratch, under sendMu
}

func newStream(s *StreamServer, key streamKey, push *sp.Push, h *streamHead) *stream {
	items := bodyQueueItems
	if isWebSocket(h.r) {
		items = wsQueueItems
	}
	ctx, cancel := context.WithCancel(s.base)
	return &stream{
		key: key, srv: s, push: push, ctx: ctx, cancel: cancel,
		in: newQueue(items, maxQueuedBytes), win: newWindow(), wantBody: h.hasBody,
		ended: make(chan struct{}),
	}
}

// sessionID is the session id in hex, as in X-Nanogate-Session.
func (st *stream) sessionID() string { return hex.EncodeToString(st.key.sid[:]) }

// put queues a frame for the handler, in buf (the PULL reader's) when it
// is worth keeping (kept). A handler that leaves its queue full
// for the stall limit has its stream cut, so that the frames behind on the
// gateway's connection flow again.
func (st *stream) put(t frames.Type, data []byte, buf *[]byte) (kept bool) {
	limit := st.srv.stallLimit
	if limit <= 0 {
		limit = defaultStallLimit
	}
	kept, err := st.in.put(t, data, buf, st.ctx.Done(), limit)
	if err != nil {
		st.srv.logger().Warn("worker: stream cut", "err", err,
			"session", st.sessionID(), "stream", st.key.num, "stall_limit", limit)
		st.cut(err)
	}
	return kept
}

// cut ends the stream from this side, telling the gateway to close the
// client's connection (a close frame). It runs on the PULL reader, and
// does not take sendMu: the handler may hold it, waiting on a send.
func (st *stream) cut(err error) {
	hdr := frames.AppendHeader(nil, st.key.sid, frames.Close, st.key.num)
	if serr := st.srv.out.send(st.push, hdr, nil); serr != nil {
		st.srv.logger().Warn("worker: could not send close", "err", serr)
	}
	st.end(err)
}

// end ends the stream: its context is cancelled, reads return err once
// what is queued is taken, writes fail with err, nothing more is sent.
func (st *stream) end(err error) {
	st.endOnce.Do(func() {
		st.endErr = err
		close(st.ended)
	})
	st.cancel()
	st.in.fail(err)
}

// err returns why the stream ended, or nil while it runs.
func (st *stream) err() error {
	select {
	case <-st.ended:
		return st.endErr
	default:
		return nil
	}
}

// send sends one frame of the reply, without flow control: for frames
// whose body is not response body (headers, end, close, websocket-close).
func (st *stream) send(t frames.Type, body []byte) error {
	st.sendMu.Lock()
	defer st.sendMu.Unlock()
	if err := st.err(); err != nil {
		return err
	}
	st.hdr = frames.AppendHeader(st.hdr[:0], st.key.sid, t, st.key.num)
	return st.srv.out.send(st.push, st.hdr, body)
}

// sendBody sends data as frames of type t, each at most maxFrameBody and
// within the stream's window, waiting for credit when the window is shut.
func (st *stream) sendBody(t frames.Type, data []byte) error {
	for len(data) > 0 {
		n, err := st.win.take(1, min(len(data), maxFrameBody), st.ended, st.err)
		if err != nil {
			return err
		}
		if err := st.send(t, data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// isWebSocket reports whether the request asks for a WebSocket: the
// gateway has answered the handshake by the time a handler sees it.
func isWebSocket(r *http.Request) bool {
	for _, v := range r.Header["Upgrade"] {
		if headerValueContainsToken(v, "websocket") {
			return true
		}
	}
	return false
}
