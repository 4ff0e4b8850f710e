package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/nanogate/nanogate/session"
)

// FastHandler answers requests without net/http, for workers whose own
// cost matters: the request is read in place in the message and the reply
// is encoded straight into the outgoing message, so a request costs no
// allocation and leaves the garbage collector nothing to do. On 2 cores
// behind the gateway, a hello worker spent about 15 µs of CPU per request
// as an http.Handler and about 8 as a FastHandler (bench/README.md).
//
// The request is checked as for an http.Handler: a message that
// http.ReadRequest would refuse, or whose framing is ambiguous, is answered
// 400 without calling the handler. Everything r and w return or hold is
// valid only during the call; copy what must outlive it.
type FastHandler interface {
	ServeFast(w *FastResponse, r *FastRequest)
}

// FastHandlerFunc adapts a function to FastHandler.
type FastHandlerFunc func(w *FastResponse, r *FastRequest)

// ServeFast calls f(w, r).
func (f FastHandlerFunc) ServeFast(w *FastResponse, r *FastRequest) { f(w, r) }

// FastRequest is one request, read in place: every []byte it returns is a
// slice of the message, valid until the handler returns, and must not be
// modified.
type FastRequest struct {
	msg    []byte
	p      *parser
	line   requestLine
	path   []byte
	query  []byte
	body   []byte
	server context.Context
}

// Method is the request method, as sent: "GET".
func (r *FastRequest) Method() []byte { return r.line.method }

// RequestURI is the request target, as sent: "/api/items?id=7".
func (r *FastRequest) RequestURI() []byte { return r.line.target }

// Path is the target up to its query, not unescaped: "/api/items".
func (r *FastRequest) Path() []byte { return r.path }

// Query is the raw query, without its '?': "id=7"; nil without one.
func (r *FastRequest) Query() []byte { return r.query }

// Proto is the protocol, "HTTP/1.1" or "HTTP/1.0".
func (r *FastRequest) Proto() []byte { return r.line.proto }

// Body is the request body, de-chunked by the gateway; empty without one.
func (r *FastRequest) Body() []byte { return r.body }

// Header returns the first value of the header field name (ASCII
// case-insensitive), leading and trailing spaces removed, or nil. Host is a
// field like the others here. The gateway's fields are X-Forwarded-For,
// X-Forwarded-Proto, X-Request-Id and X-Nanogate-Session (package doc).
func (r *FastRequest) Header(name string) []byte {
	for _, f := range r.p.fields {
		if n := r.p.bytes(r.msg, f.name); len(n) == len(name) && equalFoldBytes(n, name) {
			return r.p.bytes(r.msg, f.value)
		}
	}
	return nil
}

// VisitHeaders calls f for every header field in message order, names in
// canonical form ("Content-Type", as net/http's Header keys).
func (r *FastRequest) VisitHeaders(f func(name, value []byte)) {
	for _, fl := range r.p.fields {
		f(r.p.bytes(r.msg, fl.name), r.p.bytes(r.msg, fl.value))
	}
}

// ClientIP is the client's address as the gateway saw it: the last entry of
// the last X-Forwarded-For field (earlier entries are the client's claims).
// nil when there is none, as behind mod_nano.
func (r *FastRequest) ClientIP() []byte {
	var xff []byte
	for _, f := range r.p.fields {
		if f.kind == fieldForwardedFor {
			xff = r.p.bytes(r.msg, f.value)
		}
	}
	if i := bytes.LastIndexByte(xff, ','); i >= 0 {
		xff = xff[i+1:]
	}
	xff = bytes.TrimSpace(xff)
	if len(xff) == 0 {
		return nil
	}
	return xff
}

// Context is the server's context: it ends when the server is closed, so a
// handler that waits on something can give up then. It is not per request.
func (r *FastRequest) Context() context.Context { return r.server }

// parse reads msg, which must stay valid while r is used. It refuses what
// parseInto refuses (FuzzFastVsParse holds the two together): the common
// request is checked here without allocating, a target that is not a plain
// path with parseTarget, as parseInto does.
func (r *FastRequest) parse(msg []byte) error {
	rl, err := parseRequestLine(msg)
	if err != nil {
		return err
	}
	headLen, err := r.p.scanHeader(msg, rl.pos)
	if err != nil {
		return malformed(err)
	}
	r.msg, r.line = msg, rl
	target := rl.target
	if !isOriginForm(target) {
		if _, err := parseTarget(rl.connect, string(target)); err != nil {
			return malformed(err)
		}
	}
	r.path, r.query = target, nil
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		r.path, r.query = target[:i], target[i+1:]
	}
	n, err := r.p.bodyLength(msg, rl.major, rl.minor)
	if err != nil {
		return err
	}
	r.body = msg[headLen:]
	if n >= 0 && n != int64(len(r.body)) {
		return errBodyLength
	}
	return nil
}

// bodyLength applies finish's framing rules to the fields: one Host at
// most, no Transfer-Encoding from HTTP/1.1 on (the gateway de-chunks), equal
// Content-Lengths that parse, HTTP/1.x. It returns the Content-Length, or
// -1 without one.
func (p *parser) bodyLength(msg []byte, major, minor int) (int64, error) {
	hosts, encodings, lengths := 0, 0, 0
	var length []byte
	for _, f := range p.fields {
		switch f.kind {
		case fieldHost:
			hosts++
		case fieldTransferEncoding:
			encodings++
		case fieldContentLength:
			v := bytes.Trim(p.bytes(msg, f.value), " \t\r\n")
			if lengths > 0 && !bytes.Equal(v, length) {
				return 0, malformed(errors.New("http: message cannot contain multiple Content-Length headers"))
			}
			length = v
			lengths++
		}
	}
	if hosts > 1 {
		return 0, malformed(errors.New("too many Host headers"))
	}
	if encodings > 0 && (major > 1 || major == 1 && minor >= 1 || major == 0 && minor == 0) {
		// Chunked or not, one or several: refused either way.
		return 0, errTransferEncoding
	}
	n := int64(-1)
	if lengths > 0 {
		// Digits only, as strconv.ParseUint; more than 18 of them cannot be
		// the length of a message anyway.
		v, ok := session.ParseLength(length)
		if !ok {
			return 0, malformed(badStringError("bad Content-Length", string(length)))
		}
		n = int64(v)
	}
	if major != 1 {
		return 0, errVersion
	}
	return n, nil
}

// isOriginForm is parseOriginForm's test, on bytes: a path of characters
// that need no escaping, then maybe a query without control characters.
func isOriginForm(t []byte) bool {
	if len(t) == 0 || t[0] != '/' {
		return false
	}
	i := 1
	for i < len(t) && pathChars[t[i]] {
		i++
	}
	if i == len(t) {
		return true
	}
	if t[i] != '?' {
		return false
	}
	for _, c := range t[i+1:] {
		if c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func equalFoldBytes(b []byte, s string) bool {
	for i := range b {
		if lowerASCII(b[i]) != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}

// FastResponse builds the reply: a status, header fields, a body. Framing
// is the worker's: Content-Length is computed (a handler's own is ignored,
// as are Transfer-Encoding, Connection and Trailer), HEAD gets the length
// without the body, 1xx, 204 and 304 get no body. Without SetStatus the
// status is 200.
type FastResponse struct {
	status int
	isHead bool
	head   []byte // header lines
	body   []byte
}

// SetStatus sets the status code; the last call wins. A code outside
// 100-999 panics, as with net/http, and the reply becomes a 500.
func (w *FastResponse) SetStatus(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid status code %d", code))
	}
	w.status = code
}

// AddHeader adds a header field. A name that is not a token, or one of
// the framing fields, is dropped; control characters in the value become
// spaces, so a value cannot split the reply.
func (w *FastResponse) AddHeader(name, value string) {
	if !session.ValidName(name) || is(name, "Content-Length") || is(name, "Transfer-Encoding") ||
		is(name, "Connection") || is(name, "Trailer") {
		return
	}
	w.head = append(w.head, name...)
	w.head = append(w.head, ": "...)
	w.head = appendValue(w.head, value)
	w.head = append(w.head, "\r\n"...)
}

// Write appends p to the body.
func (w *FastResponse) Write(p []byte) (int, error) {
	w.body = append(w.body, p...)
	return len(p), nil
}

// WriteString appends s to the body.
func (w *FastResponse) WriteString(s string) (int, error) {
	w.body = append(w.body, s...)
	return len(s), nil
}

// appendTo encodes the reply onto dst.
func (w *FastResponse) appendTo(dst []byte) []byte {
	code := w.status
	if code == 0 {
		code = http.StatusOK
	}
	dst = appendStatusLine(dst, code)
	dst = append(dst, w.head...)
	if !bodyAllowed(code) {
		return append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(w.body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	if !w.isHead {
		dst = append(dst, w.body...)
	}
	return dst
}

// fastState is the pooled pair a fast request uses.
type fastState struct {
	req  FastRequest
	resp FastResponse
}

var fastPool = sync.Pool{New: func() any { return new(fastState) }}

// appendFast runs the fast handler on msg and appends the reply to dst.
func (s *Server) appendFast(dst []byte, base context.Context, msg []byte) []byte {
	st := fastPool.Get().(*fastState)
	p := acquireParser()
	st.req = FastRequest{p: p, server: base}
	err := st.req.parse(msg)
	if err != nil {
		releaseParser(p)
		st.req = FastRequest{}
		fastPool.Put(st)
		s.logger().Warn("worker: bad request message", "err", err, "size", len(msg))
		return append(dst, replyBadRequest...)
	}
	w := &st.resp
	w.status, w.isHead = 0, string(st.req.line.method) == http.MethodHead
	if s.runFast(w, &st.req) {
		dst = w.appendTo(dst)
	} else {
		dst = append(dst, replyInternalError...)
	}
	releaseParser(p)
	st.req = FastRequest{}
	if cap(w.head) > maxPooledBuf || cap(w.body) > maxPooledBuf {
		*w = FastResponse{}
	}
	w.head, w.body = w.head[:0], w.body[:0]
	fastPool.Put(st)
	return dst
}

// runFast calls the fast handler and reports whether it returned normally;
// a panic is logged and recovered, as runHandler does.
func (s *Server) runFast(w *FastResponse, r *FastRequest) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				s.logger().Error("worker: panic serving request",
					"request_id", string(r.Header("X-Request-Id")),
					"method", string(r.Method()), "uri", string(r.RequestURI()), "panic", v)
			}
			ok = false
		}
	}()
	s.Fast.ServeFast(w, r)
	return true
}
