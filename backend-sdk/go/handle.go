package worker

import (
	"context"
	"net/http"
	"runtime/debug"
	"slices"

	"go.nanomsg.org/mangos/v3"
)

// Canned replies for the cases where the handler's own answer cannot be
// used. They carry a body so that a person reading the gateway's output
// sees what happened.
var (
	replyBadRequest = []byte("HTTP/1.1 400 Bad Request\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"X-Content-Type-Options: nosniff\r\n" +
		"Content-Length: 12\r\n\r\n" +
		"Bad Request\n")
	replyInternalError = []byte("HTTP/1.1 500 Internal Server Error\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"X-Content-Type-Options: nosniff\r\n" +
		"Content-Length: 22\r\n\r\n" +
		"Internal Server Error\n")
)

// serveMessage runs the handler on one request message and returns the
// reply in a new mangos message, which the caller owns. msg must stay valid
// until serveMessage returns.
func (s *Server) serveMessage(base context.Context, msg []byte) *mangos.Message {
	if s.Fast != nil {
		m := mangos.NewMessage(len(msg))
		m.Body = s.appendFast(m.Body, base, msg)
		return m
	}
	w, canned := s.serve(base, msg)
	if w == nil {
		m := mangos.NewMessage(len(canned))
		m.Body = append(m.Body, canned...)
		return m
	}
	m := w.message() // sized once, from mangos' pools
	releaseResponse(w)
	return m
}

// appendReply runs the handler on one request message and appends the
// reply to dst. msg must stay valid until appendReply returns.
func (s *Server) appendReply(dst []byte, base context.Context, msg []byte) []byte {
	if s.Fast != nil {
		return s.appendFast(dst, base, msg)
	}
	w, canned := s.serve(base, msg)
	if w == nil {
		return append(dst, canned...)
	}
	dst = w.appendTo(slices.Grow(dst, w.encodedLen()))
	releaseResponse(w)
	return dst
}

// serve runs the handler on one request message. It always produces a
// reply, since a REP that sends nothing leaves the gateway waiting for its
// deadline: either the handler's, in w (finished, for the caller to encode
// and then release), or a canned one. msg must stay valid until the reply
// is encoded.
func (s *Server) serve(base context.Context, msg []byte) (w *response, canned []byte) {
	// Parsed into a request on the stack: the handler gets the copy that
	// WithContext makes, so that the request costs one allocation.
	var req http.Request
	b, err := parseInto(&req, msg)
	if err != nil {
		s.logger().Warn("worker: bad request message", "err", err, "size", len(msg))
		return nil, replyBadRequest
	}
	// As net/http does, the request context ends when the handler returns,
	// so that work the handler started for this request is stopped.
	ctx, cancel := context.WithCancel(base)
	defer cancel()
	r := req.WithContext(ctx)

	w = acquireResponse(r.Method == http.MethodHead)
	ok := s.runHandler(w, r)
	if b != nil {
		// The message is recycled after the reply is encoded: a read by a
		// goroutine the handler left behind gets EOF instead of another
		// request's bytes.
		b.Reset(nil)
	}
	if !ok {
		releaseResponse(w)
		return nil, replyInternalError
	}
	w.finishHeader()
	return w, nil
}

// runHandler calls the handler and reports whether it returned normally. A
// panic is recovered here, per request, so that one bad request costs a 500
// and not the worker; http.ErrAbortHandler is the documented way to abort
// without a log line.
func (s *Server) runHandler(w *response, r *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				s.logger().Error("worker: panic serving request",
					"request_id", r.Header.Get("X-Request-Id"),
					"method", r.Method, "uri", r.RequestURI,
					"panic", v, "stack", string(debug.Stack()))
			}
			ok = false
		}
	}()
	h := s.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	h.ServeHTTP(w, r)
	return true
}
