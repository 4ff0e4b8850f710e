package worker

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/nanogate/nanogate/protocol/frames"
)

// Message types, with the values of gorilla/websocket and
// fasthttp/websocket, so that code written for those reads the same.
const (
	TextMessage   = 1
	BinaryMessage = 2
)

// Close codes a handler meets most (RFC 6455 section 7.4.1).
const (
	CloseNormalClosure     = 1000
	CloseGoingAway         = 1001
	CloseNoStatusReceived  = 1005 // the client's close carried no code
	CloseInternalServerErr = 1011
)

// CloseError is what ReadMessage returns once the client has closed the
// WebSocket: its close code and reason.
type CloseError struct {
	Code int
	Text string
}

func (e *CloseError) Error() string {
	if e.Text == "" {
		return "websocket: close " + strconv.Itoa(e.Code)
	}
	return "websocket: close " + strconv.Itoa(e.Code) + ": " + e.Text
}

// ErrCloseSent is returned by WriteMessage and Close after Close.
var ErrCloseSent = errors.New("worker: websocket close already sent")

var (
	errNotStream  = errors.New("worker: AcceptWebSocket: the response is not a StreamServer stream (route format frames)")
	errNotUpgrade = errors.New("worker: AcceptWebSocket: the request has no Upgrade: websocket")
	errStarted    = errors.New("worker: AcceptWebSocket: the response has already started")
	errAccepted   = errors.New("worker: AcceptWebSocket: already accepted")
	errTooBig     = fmt.Errorf("worker: websocket message over %d bytes, the stream's whole window (frames.Window)", frames.Window)
)

// WebSocket is a client's WebSocket, carried by the gateway as frames: the
// gateway answered the handshake and frames the messages, so a message here
// is one whole message. One goroutine at a time may call ReadMessage;
// WriteMessage and Close may be called from any goroutine. The WebSocket
// lives as long as its handler runs: when the handler returns, the stream
// ends (with a close 1000 if the handler sent none).
type WebSocket struct {
	st      *stream
	readErr error // sticky: the client's close, or the end

	mu        sync.Mutex // writes, in order
	closeSent bool
}

// AcceptWebSocket takes over the stream of a request whose headers ask for
// a WebSocket (Upgrade: websocket) on a StreamServer: the gateway has
// already answered the handshake, so nothing is sent here. It fails on any
// other request or response writer (w may wrap the stream's writer if it
// has an Unwrap method, as http.ResponseController expects), and once the
// response has started.
func AcceptWebSocket(w http.ResponseWriter, r *http.Request) (*WebSocket, error) {
	sw := streamWriterOf(w)
	switch {
	case sw == nil:
		return nil, errNotStream
	case !isWebSocket(r):
		return nil, errNotUpgrade
	case sw.ws != nil:
		return nil, errAccepted
	case sw.sent || sw.status != 0 || len(sw.buf) > 0:
		return nil, errStarted
	}
	sw.ws = &WebSocket{st: sw.st}
	return sw.ws, nil
}

func streamWriterOf(w http.ResponseWriter) *streamWriter {
	for {
		switch x := w.(type) {
		case *streamWriter:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// SessionID is the client connection's session id (X-Nanogate-Session):
// the id a Pusher sends to.
func (ws *WebSocket) SessionID() string { return ws.st.sessionID() }

// ReadMessage returns the next message from the client and its type
// (TextMessage or BinaryMessage). Once the client has closed the
// WebSocket it returns a *CloseError; once the gateway has ended the stream
// without a close, io.EOF; the same error ever after.
func (ws *WebSocket) ReadMessage() (messageType int, p []byte, err error) {
	if ws.readErr != nil {
		return 0, nil, ws.readErr
	}
	for {
		it, err := ws.st.in.take()
		if err != nil {
			if errors.Is(err, ErrStreamEnded) {
				err = io.EOF
			}
			ws.readErr = err
			return 0, nil, err
		}
		switch it.t {
		case frames.WSText:
			return TextMessage, it.data, nil
		case frames.WSBinary:
			return BinaryMessage, it.data, nil
		case frames.WSClose:
			ws.readErr = parseClientClose(it.data)
			return 0, nil, ws.readErr
		}
	}
}

// parseClientClose reads the gateway's websocket-close: the client's code
// and reason, or empty for 1005 (docs/PROTOCOL.md; frames.ParseClose reads
// empty as 1000, the rule of the other direction).
func parseClientClose(body []byte) *CloseError {
	if len(body) == 0 {
		return &CloseError{Code: CloseNoStatusReceived}
	}
	code, reason, ok := frames.ParseClose(body)
	if !ok {
		return &CloseError{Code: CloseNoStatusReceived, Text: string(body)}
	}
	return &CloseError{Code: code, Text: string(reason)}
}

// WriteMessage sends one message to the client: messageType TextMessage
// (data should be UTF-8) or BinaryMessage. It waits while the stream's
// window is used up, as a response body does, so a message may not exceed
// the whole window (frames.Window, 1 MiB).
func (ws *WebSocket) WriteMessage(messageType int, data []byte) error {
	var t frames.Type
	switch messageType {
	case TextMessage:
		t = frames.WSText
	case BinaryMessage:
		t = frames.WSBinary
	default:
		return fmt.Errorf("worker: websocket message type %d is neither TextMessage nor BinaryMessage", messageType)
	}
	if len(data) > frames.Window {
		return errTooBig
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closeSent {
		return ErrCloseSent
	}
	st := ws.st
	if len(data) > 0 {
		// The wait also ends when the handler returns (its context ends),
		// so that a writer left behind does not hold up the final close.
		_, err := st.win.take(len(data), len(data), st.ctx.Done(), func() error {
			if err := st.err(); err != nil {
				return err
			}
			return errAfterReturn
		})
		if err != nil {
			return err
		}
	}
	return st.send(t, data)
}

// Close sends a close to the client with code (1000, or 3000 to 4999 for
// the application's own) and reason (at most 123 bytes, RFC 6455 section
// 5.5). The handler should then return, which ends the stream.
func (ws *WebSocket) Close(code int, reason string) error {
	if !sendableCode(code) {
		return fmt.Errorf("worker: websocket close code %d may not be sent (RFC 6455 section 7.4)", code)
	}
	if len(reason) > 123 {
		return fmt.Errorf("worker: websocket close reason of %d bytes, over 123", len(reason))
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closeSent {
		return ErrCloseSent
	}
	ws.closeSent = true
	return ws.st.send(frames.WSClose, frames.AppendClose(nil, code, reason))
}

// sendableCode: the codes an endpoint may put in a close frame (RFC 6455
// sections 7.4.1 and 7.4.2; 1004, 1005, 1006 and 1015 are reserved).
func sendableCode(code int) bool {
	switch {
	case code >= 3000 && code <= 4999:
		return true
	case code < 1000 || code > 1014:
		return false
	}
	return code != 1004 && code != 1005 && code != 1006
}

// finish ends the WebSocket once its handler has returned: a close if the
// handler sent none (1000, or 1011 after a panic), then end, or close
// after a panic.
func (ws *WebSocket) finish(panicked bool) error {
	ws.mu.Lock()
	sent := ws.closeSent
	ws.closeSent = true
	ws.mu.Unlock()
	code, last := CloseNormalClosure, frames.End
	if panicked {
		code, last = CloseInternalServerErr, frames.Close
	}
	if !sent {
		if err := ws.st.send(frames.WSClose, frames.AppendClose(nil, code, "")); err != nil {
			return err
		}
	}
	return ws.st.send(last, nil)
}
