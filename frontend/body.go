package frontend

import (
	"errors"
	"io"
	"time"

	"github.com/nanogate/nanogate/hub"
	"github.com/nanogate/nanogate/internal/pieces"
	"github.com/nanogate/nanogate/protocol/frames"
	"github.com/valyala/fasthttp"
)

// Request bodies. With Config.StreamBodies the server hands the handler a
// body stream instead of the whole body (fasthttp's StreamRequestBody), so
// that a frames route relays an upload as it arrives, in body frames,
// holding one piece at a time. fasthttp then no longer enforces the body
// limit, so it is enforced here, for both kinds of route.

// errBodyTooLarge: the body is over max_body_bytes (413).
var errBodyTooLarge = errors.New("request body over max_body_bytes")

// errClientBody: the client's body could not be read (it went away, timed
// out, or sent broken chunks); nothing can be answered.
type errClientBody struct{ err error }

func (e errClientBody) Error() string { return "reading the request body: " + e.err.Error() }
func (e errClientBody) Unwrap() error { return e.err }

// bufferedBody returns the whole request body for a route of format http.
func (s *Server) bufferedBody(ctx *fasthttp.RequestCtx, sc *scratch) ([]byte, error) {
	r := ctx.RequestBodyStream()
	if !s.streamBodies || r == nil {
		return ctx.Request.Body(), nil
	}
	if ctx.Request.Header.ContentLength() > s.maxBody {
		return nil, errBodyTooLarge
	}
	sc.body = sc.body[:0]
	for {
		if len(sc.body) == cap(sc.body) {
			sc.body = append(sc.body, 0)[:len(sc.body)]
		}
		n, err := r.Read(sc.body[len(sc.body):cap(sc.body)])
		sc.body = sc.body[:len(sc.body)+n]
		if len(sc.body) > s.maxBody {
			return nil, errBodyTooLarge
		}
		if err == io.EOF {
			return sc.body, nil
		}
		if err != nil {
			return nil, errClientBody{err}
		}
	}
}

// streamBodyUp relays the request body to the worker in body frames as it
// arrives, then the empty body frame that ends it. Each read may wait for
// the client up to the read timeout, so a long upload is bounded by its
// pauses, not its length; each send waits while the worker's connection is
// full, which stops the reads, which closes the client's TCP window.
func (s *Server) streamBodyUp(ctx *fasthttp.RequestCtx, st *hub.Stream) error {
	r := ctx.RequestBodyStream()
	if r == nil {
		return s.sendBodyFrames(st, ctx.Request.Body())
	}
	conn, total := ctx.Conn(), 0
	ready, _ := conn.(readyReader)
	for {
		conn.SetReadDeadline(time.Now().Add(s.readTimeout))
		// Each piece goes to the worker's connection in its own buffer,
		// written from there, not copied into the connection's batch.
		bp := pieces.Get(maxBodyFrame)
		n, err := fill(r, *bp, ready)
		if total += n; total > s.maxBody {
			pieces.Put(bp)
			return errBodyTooLarge
		}
		if n > 0 {
			*bp = (*bp)[:n]
			if serr := st.SendOwned(frames.Body, bp); serr != nil {
				return serr
			}
		} else {
			pieces.Put(bp)
		}
		switch {
		case err == io.EOF:
			return st.Send(frames.Body, nil)
		case err != nil:
			return errClientBody{err}
		}
	}
}

// readyReader tells whether bytes are ready to read without waiting:
// clientConn.
type readyReader interface{ ready() bool }

// fill reads into p until it is full, or, once it holds something, until
// the connection has nothing ready (with a nil rr: after one read), or r
// fails. A piece goes to the worker as soon as the client pauses: a client
// that streams its body (events in a chunked POST) is heard at once, not
// once 256 KiB have gathered, while a bulk upload, whose bytes wait in the
// socket, still goes in full pieces. Unlike io.ReadFull it keeps io.EOF as
// the clean end and any other error as it is (a truncated body is the
// stream's io.ErrUnexpectedEOF, never taken for an end).
func fill(r io.Reader, p []byte, rr readyReader) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
		if n > 0 && (rr == nil || !rr.ready()) {
			return n, nil
		}
	}
	return n, nil
}

// sendBodyFrames sends a body held whole in body frames, then the end.
func (s *Server) sendBodyFrames(st *hub.Stream, body []byte) error {
	for len(body) > 0 {
		n := min(len(body), maxBodyFrame)
		if err := st.Send(frames.Body, body[:n]); err != nil {
			return err
		}
		body = body[n:]
	}
	return st.Send(frames.Body, nil)
}
