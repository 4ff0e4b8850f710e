package frontend

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nanogate/nanogate/gateway"
	"github.com/nanogate/nanogate/hub"
	"github.com/nanogate/nanogate/protocol/frames"
	"github.com/nanogate/nanogate/session"
	"github.com/valyala/fasthttp"
)

// maxBodyFrame is the largest piece of request body in one body frame:
// large enough that the per-message costs (a wake-up and a system call on
// each side) stay small — 64 KiB pieces carried a 1 GiB upload at 0.24-0.34
// of net/http's speed, 256 KiB at 0.39-0.43 (bench/harness --scenario
// stream) — and small enough that one stream's frame does not hold the
// worker's connection for long.
const maxBodyFrame = 256 << 10

// handleStream serves a request of a frames route: the request goes out as
// frames to the worker that takes the stream, and the response comes back
// as frames, streamed to the client as they arrive.
func (s *Server) handleStream(ctx *fasthttp.RequestCtx, route *Route, req *session.Request, sc *scratch) gateway.Reason {
	rid := req.RequestID
	if route.WebSocket && isWebSocketUpgrade(&ctx.Request.Header) {
		return s.handleWebSocket(ctx, route, req, sc)
	}
	req.ContentLength = ctx.Request.Header.ContentLength() // -1: chunked
	if req.ContentLength > s.maxBody {
		return s.bodyFailed(ctx, route, rid, errBodyTooLarge)
	}
	st, err := route.Streams.Open(req.Session, uint32(ctx.ConnRequestNum()))
	if err != nil {
		return s.upstreamFailed(ctx, route, rid, err)
	}
	req.HeadOnly = true
	req.Extra = s.inboundLine
	sc.msg = session.AppendRequest(sc.msg[:0], req)
	if err := st.Send(frames.Request, sc.msg); err != nil {
		st.Close(false)
		return s.upstreamFailed(ctx, route, rid, err)
	}
	if req.Framed {
		if err := s.streamBodyUp(ctx, st); err != nil {
			st.Close(true)
			if errors.Is(err, hub.ErrWorkerLost) {
				ctx.SetConnectionClose()
				return s.upstreamFailed(ctx, route, rid, err)
			}
			return s.bodyFailed(ctx, route, rid, err)
		}
	}
	var resp session.Response
	if err := s.awaitHead(st, route, sc.msg, req, &resp); err != nil {
		st.Close(true)
		return s.upstreamFailed(ctx, route, rid, err)
	}
	writeStreamHead(&ctx.Response, &resp)
	s.log.Debug("stream", "id", string(rid), "route", route.Name, "status", resp.Status)
	if head := ctx.IsHead(); head || resp.Status == fasthttp.StatusNoContent || resp.Status == fasthttp.StatusNotModified {
		// No body goes to the client: the stream is over here. A 204 or
		// 304 is complete with its head; a worker answering HEAD may be
		// about to send a body, and is told to stop.
		ctx.Response.SkipBody = true
		if resp.ContentLength >= 0 {
			ctx.Response.Header.SetContentLength(resp.ContentLength)
		}
		st.Close(head)
		return gateway.ReasonNone
	}
	if resp.ContentLength >= 0 && len(resp.Body) == resp.ContentLength {
		// The whole response came with its head (most replies that are
		// not streams): it leaves as one write, as a format http reply
		// does, instead of a flushed head and then the body (a quarter of
		// the gateway's CPU on a ZHTTP hello went to that second write).
		ctx.Response.SetBody(resp.Body) // a copy: the stream's buffer goes with Close
		st.Close(false)                 // complete: the worker has finished it
		return gateway.ReasonNone
	}
	body := &streamBody{st: st, conn: ctx.Conn(), idle: route.StreamIdle, writeTimeout: s.writeTimeout,
		left: resp.ContentLength, first: resp.Body, log: s.log, rid: string(rid)}
	// A client that stops reading while its worker keeps sending: close it
	// when its window overflows, rather than at the write timeout.
	conn := ctx.Conn()
	st.OnCut(func() { conn.Close() })
	if cc, ok := ctx.Conn().(AfterResponseCloser); ok {
		body.closeConn = cc.CloseAfterResponse
	}
	if resp.ContentLength < 0 && !ctx.Request.Header.IsHTTP11() {
		// HTTP/1.0 has no chunked coding (RFC 9112 section 6.1), and
		// fasthttp would send it anyway: the body goes as it comes, and
		// closing the connection ends it, as nginx does. The connection
		// is taken over to write the head (no length, Connection: close)
		// and then the body; fasthttp writes nothing itself.
		body.identity = true
		ctx.Response.Header.SetCanonical(hRequestID, rid)
		ctx.Response.Header.SetContentLength(-2)
		head := ctx.Response.Header.AppendBytes(nil)
		ctx.HijackSetNoResponse(true)
		ctx.Hijack(func(c net.Conn) {
			if _, err := c.Write(head); err == nil {
				body.WriteTo(c)
			}
			body.Close()
		})
		return gateway.ReasonNone
	}
	// The head leaves at once, before the first body frame: a client of
	// an event stream sees the response start even if the first event
	// takes a while.
	ctx.Response.ImmediateHeaderFlush = true
	ctx.Response.SetBodyStream(body, resp.ContentLength)
	return gateway.ReasonNone
}

// errBadHead: the worker's headers frame is not a response head.
type errBadHead struct{ err error }

func (e errBadHead) Error() string { return "worker's headers frame: " + e.err.Error() }
func (e errBadHead) Unwrap() error { return e.err }

// errEarlyEnd: the worker ended the stream before sending headers.
var errEarlyEnd = errors.New("worker ended the stream before its headers")

// awaitHead waits for the worker's headers frame, within the route's
// timeout, and parses it into resp. A retry frame moves the request to
// another worker, once.
func (s *Server) awaitHead(st *hub.Stream, route *Route, head []byte, req *session.Request, resp *session.Response) error {
	deadline := time.Now().Add(route.Timeout)
	retried := false
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return hub.ErrIdle
		}
		t, b, err := st.Next(wait)
		if err != nil {
			return err
		}
		switch t {
		case frames.Headers:
			if _, err := resp.ParseHead(b); err != nil {
				return errBadHead{err}
			}
			return nil
		case frames.Retry:
			if retried {
				return errors.New("worker asked for a second retry")
			}
			if req.Framed {
				// The body went to the first worker as it arrived, and
				// is not kept.
				return errors.New("worker asked to retry a request whose body was streamed")
			}
			retried = true
			if err := st.Retry(); err != nil {
				return err
			}
			if err := st.Send(frames.Request, head); err != nil {
				return err
			}
		case frames.End, frames.Close:
			return errEarlyEnd
		}
		// Anything else before the head (credit, a stray message) is
		// ignored, as ZHTTP ignores what it does not expect.
	}
}

// writeStreamHead copies a worker's head into the fasthttp response, as
// writeResponse does for a whole reply; fasthttp frames the body from the
// stream (Content-Length, or chunked).
func writeStreamHead(w *fasthttp.Response, r *session.Response) {
	w.Header.SetStatusCode(r.Status)
	if len(r.Reason) > 0 && string(r.Reason) != fasthttp.StatusMessage(r.Status) {
		w.Header.SetStatusMessage(r.Reason)
	}
	copyHeaders(w, r.Header)
}

// streamBody is the body of a streamed response: fasthttp pulls it with
// WriteTo, which relays the worker's frames as they come, flushing each,
// and gives the worker credit for what reached the client.
type streamBody struct {
	st           *hub.Stream
	conn         net.Conn
	idle         time.Duration
	writeTimeout time.Duration
	left         int    // body bytes still due with a Content-Length, or -1
	first        []byte // body bytes that came with the head
	identity     bool   // no framing: the body ends with the connection (HTTP/1.0)
	done         bool   // the response ended as the worker meant it
	closeConn    func() // closes the client connection after this response; nil for other conns
	log          *slog.Logger
	rid          string
	vec          net.Buffers // a chunk's size line, data and CRLF (writeChunk)
	more         [][]byte    // pieces joined to a chunk (Stream.More)
	size         [18]byte    // the size line's bytes
}

// chunkWriter writes several buffers in one system call: clientConn.
type chunkWriter interface {
	writeVector(v *net.Buffers) (int64, error)
}

var crlf = []byte("\r\n")

// writeChunk writes p, and the pieces in more after it, as one chunk of a
// chunked body (RFC 9112 section 7.1) in one writev, straight to the
// connection. Through fasthttp's writer a 64 KiB chunk took three writes
// (the size line with the start of the data, the rest of the data, the
// CRLF): a streamed download ran at 0.50 of net/http's speed, and at 0.57
// in one writev (bench/harness --scenario stream). Only once fasthttp's
// buffer is empty: after its own first chunk, which it flushes with the
// head. It returns the data bytes written.
func (b *streamBody) writeChunk(cw chunkWriter, p []byte, more [][]byte) (int, error) {
	size := len(p)
	for _, m := range more {
		size += len(m)
	}
	line := strconv.AppendInt(b.size[:0], int64(size), 16)
	line = append(line, '\r', '\n')
	b.vec = append(append(append(b.vec[:0], line, p), more...), crlf)
	n, err := cw.writeVector(&b.vec)
	clear(b.vec[:cap(b.vec)]) // the pieces go back to their pool
	return max(0, min(size, int(n)-len(line))), err
}

// maxJoin bounds the pieces waiting in the stream that one chunk takes
// (Stream.More): when the client is slower than the worker, fewer and
// larger writes.
const maxJoin = 256 << 10

// errCut: the stream ended before its response was complete; the
// connection is closed without the closing chunk, so the client sees a cut
// body, never a clean end of a partial one.
type errCut struct{ err error }

func (e errCut) Error() string { return "stream cut: " + e.err.Error() }
func (e errCut) Unwrap() error { return e.err }

// creditEvery batches credit: one frame per half window written.
const creditEvery = frames.Window / 2

// SupportsBodyWriteTo tells fasthttp to call WriteTo, which flushes frame
// by frame.
func (b *streamBody) SupportsBodyWriteTo() bool { return true }

// Read is never called by fasthttp, since WriteTo is supported.
func (b *streamBody) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func (b *streamBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	owed := 0
	// Without a Content-Length, fasthttp (v1.74.0) always sends a stream
	// chunked, and w is its chunk writer.
	cw, vectored := b.conn.(chunkWriter)
	vectored = vectored && b.left < 0 && !b.identity
	// put writes p, then the pieces in more (only when vectored).
	put := func(p []byte, more [][]byte) error {
		if b.left >= 0 {
			p = p[:min(len(p), b.left)]
			b.left -= len(p)
		}
		if len(p) == 0 {
			return nil
		}
		b.conn.SetWriteDeadline(time.Now().Add(b.writeTimeout))
		var n int
		var err error
		if vectored && total > 0 {
			n, err = b.writeChunk(cw, p, more)
		} else {
			n, err = w.Write(p)
		}
		total += int64(n)
		if err != nil {
			return err
		}
		if f, ok := w.(interface{ Flush() error }); ok {
			if err := f.Flush(); err != nil {
				return err
			}
		}
		if owed += n; owed >= creditEvery {
			b.st.Send(frames.Credit, fmt.Appendf(nil, "%d", owed))
			owed = 0
		}
		return nil
	}
	if err := put(b.first, nil); err != nil {
		return total, err
	}
	for b.left != 0 {
		t, body, err := b.st.Next(b.idle)
		if err != nil {
			b.log.Warn("stream cut", "id", b.rid, "err", err)
			return total, errCut{err}
		}
		switch t {
		case frames.Body, frames.Chunk:
			if len(body) == 0 && t == frames.Chunk {
				return total, b.end(t)
			}
			var more [][]byte
			if vectored && total > 0 {
				b.more = b.st.More(t, b.more[:0], maxJoin-len(body))
				more = b.more
			}
			if err := put(body, more); err != nil {
				return total, err
			}
		case frames.End, frames.Close:
			return total, b.end(t)
		}
	}
	b.done = true
	return total, nil
}

// end finishes the response on the worker's word: a response that still
// owes Content-Length bytes is cut instead.
func (b *streamBody) end(t frames.Type) error {
	if b.left > 0 {
		return errCut{fmt.Errorf("worker ended with %d bytes of its Content-Length unsent", b.left)}
	}
	b.done = true
	if t == frames.Close && b.closeConn != nil {
		b.closeConn()
	}
	return nil
}

// Close is called by fasthttp once the body is written, or the write
// failed: the stream leaves the registry, and the worker is told with an
// end frame unless the response ended as it meant.
func (b *streamBody) Close() error {
	b.st.Close(!b.done)
	return nil
}
