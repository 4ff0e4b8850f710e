package frontend

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/nanogate/nanogate/gateway"
	"github.com/nanogate/nanogate/hub"
	"github.com/nanogate/nanogate/protocol/frames"
	"github.com/nanogate/nanogate/session"
	"github.com/valyala/fasthttp"
)

// isWebSocketUpgrade reports a WebSocket opening handshake (RFC 6455
// section 4.1); the upgrader checks the rest of it.
func isWebSocketUpgrade(h *fasthttp.RequestHeader) bool {
	return bytes.EqualFold(peekFold(h, "Upgrade"), []byte("websocket"))
}

// peekFold finds a header by name in any case. The server keeps header
// names as the client spelled them (DisableHeaderNamesNormalizing, so that
// workers see them unchanged), which makes fasthttp's Peek case-sensitive.
func peekFold(h *fasthttp.RequestHeader, name string) []byte {
	var v []byte
	for k, val := range h.All() {
		if v == nil && bytes.EqualFold(k, []byte(name)) {
			v = val
		}
	}
	return v
}

// wsHeaders are the names the upgrader looks up, spelled as it spells them.
var wsHeaders = []string{"Connection", "Upgrade", "Sec-Websocket-Version", "Sec-Websocket-Key",
	"Sec-Websocket-Protocol", "Sec-WebSocket-Extensions", "Origin"}

// canonicalizeWS re-adds the handshake's headers under the exact names the
// upgrader peeks, whatever case the client used.
func canonicalizeWS(h *fasthttp.RequestHeader) {
	for _, name := range wsHeaders {
		if len(h.Peek(name)) > 0 {
			continue
		}
		if v := peekFold(h, name); v != nil {
			h.Set(name, string(v))
		}
	}
}

// handleWebSocket answers the handshake itself (RFC 6455 in full is the
// library's: fasthttp/websocket, the fasthttp port of gorilla/websocket),
// then relays whole messages between the client and the worker that owns
// the stream. The worker learns of the session from the request frame,
// sent once the handshake has succeeded.
func (s *Server) handleWebSocket(ctx *fasthttp.RequestCtx, route *Route, req *session.Request, sc *scratch) gateway.Reason {
	rid := req.RequestID
	st, err := route.Streams.Open(req.Session, uint32(ctx.ConnRequestNum()))
	if err != nil {
		return s.upstreamFailed(ctx, route, rid, err)
	}
	req.HeadOnly = true
	req.Extra = s.inboundLine
	head := session.AppendRequest(nil, req) // the scratch is gone once the handler returns
	u := websocket.FastHTTPUpgrader{
		CheckOrigin:     func(ctx *fasthttp.RequestCtx) bool { return originAllowed(ctx, route.Origins) },
		WriteBufferPool: &wsWriteBuffers,
		// Replies to a handshake refused for its origin or its shape.
		Error: func(ctx *fasthttp.RequestCtx, status int, reason error) {
			s.log.Info("websocket handshake refused", "id", string(rid), "route", route.Name, "status", status, "err", reason)
			s.errorReply(ctx, status, reason.Error())
		},
	}
	canonicalizeWS(&ctx.Request.Header)
	ws := &wsRelay{s: s, st: st, route: route, rid: string(rid), log: s.log}
	err = u.Upgrade(ctx, func(c *websocket.Conn) { ws.run(c, head) })
	if err != nil {
		st.Close(false)
		if ctx.Response.StatusCode() == fasthttp.StatusForbidden {
			return gateway.ReasonForbidden
		}
		return gateway.ReasonBadRequest
	}
	return gateway.ReasonNone
}

// wsWriteBuffers lends WebSocket connections their write buffer for the
// length of a write: without it each connection kept one for its life,
// idle or not.
var wsWriteBuffers sync.Pool

// originAllowed applies the route's allow-list; with none, only the
// request's own host, or no Origin at all (a client that is not a browser,
// which no cross-site page can drive).
func originAllowed(ctx *fasthttp.RequestCtx, allowed []string) bool {
	origin := string(peekFold(&ctx.Request.Header, "Origin"))
	if origin == "" {
		return true
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(a, origin) {
			return true
		}
	}
	if len(allowed) > 0 {
		return false
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, string(ctx.Host()))
}

// wsRelay is one WebSocket session: run reads the client and sends to the
// worker; write, on its own goroutine, takes the worker's frames to the
// client. run owns both and the stream.
type wsRelay struct {
	s        *Server
	st       *hub.Stream
	route    *Route
	rid      string
	log      *slog.Logger
	lastRead atomic.Int64 // UnixNano of the client's last message, for the idle timeout
	closing  atomic.Bool  // the gateway sent the close: the client's answer is not news to the worker
	ended    atomic.Bool  // the worker ended the session itself: it needs no end frame
}

// closeWait bounds the wait for the close handshake to finish.
const closeWait = 2 * time.Second

func (r *wsRelay) run(c *websocket.Conn, head []byte) {
	// fasthttp left the request's deadlines on the connection; a WebSocket
	// lives by its own idle timeout.
	c.NetConn().SetDeadline(time.Time{})
	c.SetReadLimit(r.route.MaxMessageBytes) // past it the library sends close 1009
	nc := c.NetConn()
	r.st.OnCut(func() { nc.Close() }) // a client that stopped reading: free the writer now
	if err := r.st.Send(frames.Request, head); err != nil {
		r.st.Close(false)
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "worker gone"), time.Now().Add(closeWait))
		return
	}
	r.lastRead.Store(time.Now().UnixNano())
	written := make(chan struct{})
	go func() {
		defer close(written)
		r.write(c)
	}()
	end := r.read(c)
	r.st.Interrupt() // the writer stops, if it has not already
	<-written
	r.st.Close(end && !r.ended.Load())
}

// read relays the client's messages until the client closes or fails. It
// reports whether the worker still needs an end frame.
func (r *wsRelay) read(c *websocket.Conn) bool {
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && !r.closing.Load() {
				r.st.Send(frames.WSClose, frames.AppendClose(nil, ce.Code, ce.Text))
			}
			return true
		}
		r.lastRead.Store(time.Now().UnixNano())
		t := frames.WSText
		if mt == websocket.BinaryMessage {
			t = frames.WSBinary
		}
		if err := r.st.Send(t, msg); err != nil {
			r.closeWith(c, websocket.CloseInternalServerErr, "worker gone")
			return false
		}
	}
}

// write relays the worker's frames to the client until the stream ends,
// and closes the WebSocket with the code that says why.
func (r *wsRelay) write(c *websocket.Conn) {
	owed := 0
	for {
		t, body, err := r.st.Next(r.route.StreamIdle)
		switch {
		case errors.Is(err, hub.ErrIdle):
			if time.Since(time.Unix(0, r.lastRead.Load())) < r.route.StreamIdle {
				continue // the client spoke meanwhile
			}
			r.closeWith(c, websocket.CloseGoingAway, "idle")
			return
		case errors.Is(err, hub.ErrWorkerLost):
			r.log.Warn("websocket worker lost", "id", r.rid, "route", r.route.Name)
			r.closeWith(c, websocket.CloseInternalServerErr, "worker gone")
			return
		case errors.Is(err, hub.ErrOverflow):
			r.log.Warn("websocket cut", "id", r.rid, "route", r.route.Name, "err", err)
			r.closeWith(c, websocket.ClosePolicyViolation, "client too slow")
			return
		case err != nil: // closed by the reader
			return
		}
		switch t {
		case frames.WSText, frames.WSBinary:
			mt := websocket.TextMessage
			if t == frames.WSBinary {
				mt = websocket.BinaryMessage
			}
			c.SetWriteDeadline(time.Now().Add(r.s.writeTimeout))
			if err := c.WriteMessage(mt, body); err != nil {
				c.NetConn().Close() // the reader ends too
				return
			}
			if owed += len(body); owed >= creditEvery {
				r.st.Send(frames.Credit, fmt.Appendf(nil, "%d", owed))
				owed = 0
			}
		case frames.WSClose:
			r.ended.Store(true)
			code, reason, ok := frames.ParseClose(body)
			if !ok {
				code, reason = websocket.CloseNormalClosure, nil
			}
			r.closeWith(c, code, string(reason))
			return
		case frames.End, frames.Close:
			r.ended.Store(true)
			r.closeWith(c, websocket.CloseNormalClosure, "")
			return
		}
	}
}

// closeWith sends a close frame, then closes the connection once the
// client has answered or after closeWait, which ends the reader.
func (r *wsRelay) closeWith(c *websocket.Conn, code int, reason string) {
	r.closing.Store(true)
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(closeWait))
	c.NetConn().SetReadDeadline(time.Now().Add(closeWait))
}
