package frontend

import (
	"bytes"
	"context"
	"errors"
	"github.com/nanogate/nanogate/gateway"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/nanogate/nanogate/session"
	"github.com/valyala/fasthttp"
)

// scratch holds the per-request buffers; pooled so that a warm gateway
// encodes and receives without allocating.
type scratch struct {
	msg, reply, ip, rid, body []byte
}

// maxPooled bounds the buffers kept for reuse: one 5 MiB upload must not
// pin 5 MiB per pooled scratch for the life of the process.
const maxPooled = 1 << 20

var scratchPool = sync.Pool{New: func() any {
	return &scratch{msg: make([]byte, 0, 4096), reply: make([]byte, 0, 4096)}
}}

func releaseScratch(s *scratch) {
	if cap(s.msg) > maxPooled || cap(s.reply) > maxPooled || cap(s.body) > maxPooled {
		return
	}
	scratchPool.Put(s)
}

// Close gives the scratch back to the pool. The response body is the
// worker's reply in place (SetBodyRaw), so the scratch lives as a user value
// of the request: fasthttp closes user values when it resets the request,
// after the response is written.
func (s *scratch) Close() error {
	releaseScratch(s)
	return nil
}

// scratchKey is the user value key of a request's scratch.
type scratchKey struct{}

// servedProto is the version a request is served as: HTTP/1.0 and 1.1 as
// they are, a later HTTP/1.x as 1.1 (RFC 9110 section 2.5: a recipient
// may treat a higher minor version as the highest it supports); anything
// else is refused (505), never forwarded as sent.
func servedProto(p []byte) ([]byte, bool) {
	switch {
	case bytes.Equal(p, http11), bytes.Equal(p, http10):
		return p, true
	case len(p) == 8 && bytes.HasPrefix(p, []byte("HTTP/1.")) && p[7] >= '2' && p[7] <= '9':
		return http11, true
	}
	return nil, false
}

var (
	schemeHTTPS   = []byte("https")
	http10        = []byte("HTTP/1.0")
	http11        = []byte("HTTP/1.1")
	methodGet     = []byte("GET")
	methodHead    = []byte("HEAD")
	methodOptions = []byte("OPTIONS")
	methodTrace   = []byte("TRACE")
)

// handle serves one request, names its request id to the client, and
// tells the observer, if there is one.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	if s.budget != nil {
		s.budget.release(&ctx.Request.Header) // the body is in
	}
	route, rid, reason := s.serve(ctx)
	ctx.Response.Header.SetCanonical(hRequestID, rid)
	if s.draining.Load() {
		ctx.SetConnectionClose()
	}
	if s.observer != nil {
		s.observe(ctx, route, rid, reason)
	}
}

// observe tells the observer of a request served. It is kept out of
// handle, whose frame is on the stack for the whole request: an idle
// keep-alive connection keeps the stack its deepest request needed (Go
// shrinks stacks only at a garbage collection, which an idle gateway does
// not run), and the Exchange in handle's frame took it past 4 KiB, from
// 6.5 to 10.7 KiB per idle connection (bench/harness --scenario idle).
//
//go:noinline
func (s *Server) observe(ctx *fasthttp.RequestCtx, route *Route, rid []byte, reason gateway.Reason) {
	// fasthttp reads the clock just before it calls the handler (ctx.Time),
	// so one more read here gives both the duration and the time of the
	// line: reading the clock was 3% of the gateway's CPU under wrk (pprof,
	// kvm-clock), and the observers read it three times before.
	end := time.Now()
	bytes := -1 // a stream's, or a taken-over connection's (WebSocket, HTTP/1.0 stream)
	if !ctx.Response.IsBodyStream() && !ctx.Hijacked() {
		bytes = len(ctx.Response.Body())
	}
	s.observer.Served(gateway.Exchange{
		Route: route, Method: ctx.Request.Header.Method(), URI: ctx.Request.Header.RequestURI(),
		Client: ctx.RemoteAddr(), RequestID: rid, Status: ctx.Response.StatusCode(), Bytes: bytes,
		Elapsed: end.Sub(ctx.Time()), End: end, Conn: ctx.ConnID(), Reason: reason,
	})
}

var hRequestID = []byte("X-Request-Id")

// serve serves one request and returns its route (nil when none matched),
// its request id and, when the gateway answered it itself, why; see the
// package doc for the order of steps.
func (s *Server) serve(ctx *fasthttp.RequestCtx) (*Route, []byte, gateway.Reason) {
	sc := scratchPool.Get().(*scratch)
	ctx.SetUserValue(scratchKey{}, sc)
	h := &ctx.Request.Header
	f, err := scanHeaders(h.RawHeaders())
	rid := f.requestID
	if rid == nil {
		sc.rid = s.reqIDs.Make(ctx.ConnID(), ctx.ConnRequestNum()).AppendHex(sc.rid[:0])
		rid = sc.rid
	}
	if err == nil && !validTarget(h.RequestURI()) {
		err = errBadTarget
	}
	if err != nil {
		return nil, rid, s.refuse(ctx, rid, err)
	}
	proto, ok := servedProto(h.Protocol())
	if !ok {
		ctx.SetConnectionClose()
		s.errorReply(ctx, fasthttp.StatusHTTPVersionNotSupported, "HTTP/1.0 and HTTP/1.1 only")
		return nil, rid, gateway.ReasonBadRequest
	}
	route := s.router.Load().Match(h.Host(), ctx.Path())
	if route == nil {
		s.errorReply(ctx, fasthttp.StatusNotFound, "no route")
		return nil, rid, gateway.ReasonNoRoute
	}
	method := h.Method()
	req := session.Request{
		Method: method, URI: h.RequestURI(), Proto: proto, Header: h.RawHeaders(),
		Framed:  f.framed,
		Forward: route.Forward, RequestID: rid,
	}
	if ctx.IsTLS() {
		req.Scheme = schemeHTTPS
	}
	if route.Forward || route.Streams != nil {
		if cc, ok := ctx.Conn().(*clientConn); ok {
			req.ClientIP = cc.clientIP()
		} else {
			sc.ip = appendIP(sc.ip[:0], ctx.RemoteAddr())
			req.ClientIP = sc.ip
		}
		req.Session = s.sessIDs.Make(ctx.ConnID(), uint64(ctx.ConnTime().UnixNano()))
	}
	if route.Streams != nil {
		return route, rid, s.handleStream(ctx, route, &req, sc)
	}
	if req.Body, err = s.bufferedBody(ctx, sc); err != nil {
		return route, rid, s.bodyFailed(ctx, route, rid, err)
	}
	sc.msg = session.AppendRequest(sc.msg[:0], &req)

	safe := bytes.Equal(method, methodGet) || bytes.Equal(method, methodHead) ||
		bytes.Equal(method, methodOptions) || bytes.Equal(method, methodTrace)
	sc.reply, err = route.Upstream.RoundTrip(sc.reply[:0], sc.msg, safe)
	if err != nil {
		return route, rid, s.upstreamFailed(ctx, route, rid, err)
	}
	var resp session.Response
	if err := resp.Parse(sc.reply, bytes.Equal(method, methodHead)); err != nil {
		return route, rid, s.upstreamFailed(ctx, route, rid, err)
	}
	writeResponse(&ctx.Response, &resp)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.logRequest(ctx, route, rid, &resp)
	}
	return route, rid, gateway.ReasonNone
}

// The request path's rare branches live in functions of their own, kept
// out of line: their arguments (a log call's are a dozen interface values)
// would otherwise widen serve's frame, which every request's stack carries
// (see observe).

// refuse answers a request whose head is refused.
//
//go:noinline
func (s *Server) refuse(ctx *fasthttp.RequestCtx, rid []byte, err error) gateway.Reason {
	status, reason := fasthttp.StatusBadRequest, gateway.ReasonBadRequest
	if err == errTooManyHeaders {
		status, reason = fasthttp.StatusRequestHeaderFieldsTooLarge, gateway.ReasonHeaderTooLarge
	}
	s.log.Warn("refused request", "id", string(rid), "reason", err.Error(), "client", ctx.RemoteAddr().String())
	ctx.SetConnectionClose()
	s.errorReply(ctx, status, err.Error())
	return reason
}

// logRequest writes the debug line of a request served.
//
//go:noinline
func (s *Server) logRequest(ctx *fasthttp.RequestCtx, route *Route, rid []byte, resp *session.Response) {
	s.log.Debug("request", "id", string(rid), "route", route.Name, "method", string(ctx.Request.Header.Method()),
		"uri", string(ctx.Request.Header.RequestURI()), "status", resp.Status, "bytes", len(resp.Body))
}

// writeResponse copies a parsed reply into the fasthttp response.
func writeResponse(w *fasthttp.Response, r *session.Response) {
	w.Header.SetStatusCode(r.Status)
	if len(r.Reason) > 0 && string(r.Reason) != fasthttp.StatusMessage(r.Status) {
		w.Header.SetStatusMessage(r.Reason)
	}
	copyHeaders(w, r.Header)
	if len(r.Body) == 0 && r.ContentLength > 0 {
		// A HEAD or 304 reply announces the size it does not carry.
		w.SkipBody = true
		w.Header.SetContentLength(r.ContentLength)
		return
	}
	w.SetBodyRaw(r.Body) // valid until the scratch's Close
}

// copyHeaders copies a worker's header block, validated by Parse or
// ParseHead, into w. Framing and hop-by-hop fields (RFC 9110 section
// 7.6.1) are the gateway's own business: fasthttp frames the body and
// manages Date and Connection.
func copyHeaders(w *fasthttp.Response, header []byte) {
	for hb := header; len(hb) > 0; {
		name, value, rest, _ := session.NextHeader(hb) // Parse validated every line
		hb = rest
		switch f := session.FieldOf(name); {
		case f == session.FieldContentLength:
			// Parse read it into r.ContentLength; fasthttp frames the body.
		case f == session.FieldServer:
			w.Header.SetServerBytes(value)
		case f.HopByHop(), f == session.FieldDate:
			// fasthttp writes its own Date; the rest is about the
			// worker's connection, not the client's.
		default:
			w.Header.AddBytesKV(name, value)
		}
	}
}

// appendIP appends the textual IP of addr without allocating for TCP
// addresses.
func appendIP(dst []byte, addr net.Addr) []byte {
	if a, ok := addr.(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap().AppendTo(dst)
	}
	return append(dst, addr.String()...)
}

// upstreamFailed answers and logs a failed round trip. The client learns
// what happened and its request id; where (an endpoint's address, a
// worker's failure) is for the log only.
func (s *Server) upstreamFailed(ctx *fasthttp.RequestCtx, route *Route, rid []byte, err error) gateway.Reason {
	status, reason := gateway.Classify(err)
	if gateway.RetryAfter(status) {
		ctx.Response.Header.Set("Retry-After", "1")
	}
	if ok, held := s.failLog.allow(); ok {
		s.log.Warn("upstream failed", "id", string(rid), "route", route.Name, "status", status, "err", err,
			"not_logged_before", held)
	}
	s.errorReply(ctx, status, "request "+string(rid))
	return reason
}

// bodyFailed answers a request whose body could not be taken: 413 over
// the limit, else the client is gone or broke its framing. The rest of the
// body is unread, so the connection cannot carry another request.
func (s *Server) bodyFailed(ctx *fasthttp.RequestCtx, route *Route, rid []byte, err error) gateway.Reason {
	ctx.SetConnectionClose()
	status, reason := fasthttp.StatusBadRequest, gateway.ReasonBadRequest
	if errors.Is(err, errBodyTooLarge) {
		status, reason = fasthttp.StatusRequestEntityTooLarge, gateway.ReasonBodyTooLarge
		if cc, ok := ctx.Conn().(LingeringCloser); ok {
			cc.LingerOnClose()
		}
	}
	s.log.Info("request body refused", "id", string(rid), "route", route.Name, "status", status, "err", err)
	s.errorReply(ctx, status, err.Error())
	return reason
}

// errorReply writes a short plain-text error the gateway itself produced.
func (s *Server) errorReply(ctx *fasthttp.RequestCtx, status int, detail string) {
	ctx.Response.SetStatusCode(status)
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.Response.SetBodyString(fasthttp.StatusMessage(status) + ": " + detail + "\n")
}
