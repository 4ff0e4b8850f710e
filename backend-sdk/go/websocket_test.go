package worker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nanogate/nanogate/protocol/frames"
)

const wsHeaders = "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

// echoWS is the demo's WebSocket handler: the session id first, then every
// message back with its type; the error that ended it goes to done.
func echoWS(done chan<- error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ws, err := AcceptWebSocket(w, r)
		if err != nil {
			done <- err
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := ws.WriteMessage(TextMessage, []byte("session "+ws.SessionID())); err != nil {
			done <- err
			return
		}
		for {
			t, p, err := ws.ReadMessage()
			if err != nil {
				done <- err
				return
			}
			if err := ws.WriteMessage(t, p); err != nil {
				done <- err
				return
			}
		}
	}
}

// TestWebSocketEcho: messages keep their type both ways (the golden binary
// frame in), the client's close (the golden close frame) reaches the
// handler as a *CloseError, and the worker answers it with a close and end.
func TestWebSocketEcho(t *testing.T) {
	done := make(chan error, 1)
	g := newFakeGateway(t, &StreamServer{Handler: echoWS(done)})
	g.request(4, "GET", "/api/ws", wsHeaders)

	if f := g.expect(frames.WSText, 4); string(f.Body) != "session "+testSID {
		t.Errorf("first message %q", f.Body)
	}
	g.send(frames.WSText, 4, []byte("héllo"))
	if f := g.expect(frames.WSText, 4); string(f.Body) != "héllo" {
		t.Errorf("text echo %q", f.Body)
	}
	g.sendRaw(golden(t, "websocket-binary.frame"))
	if f := g.expect(frames.WSBinary, 4); !bytes.Equal(f.Body, []byte{1, 2, 0, 0xff}) {
		t.Errorf("binary echo %x", f.Body)
	}
	g.send(frames.WSText, 4, nil)
	if f := g.expect(frames.WSText, 4); len(f.Body) != 0 {
		t.Errorf("empty echo %q", f.Body)
	}
	g.sendRaw(golden(t, "websocket-close.frame")) // 1011 worker gone
	var ce *CloseError
	if err := recv(t, done, "the handler"); !errors.As(err, &ce) || ce.Code != 1011 || ce.Text != "worker gone" {
		t.Errorf("ReadMessage after the client's close: %v", err)
	}
	if f := g.expect(frames.WSClose, 4); string(f.Body) != "1000" {
		t.Errorf("close answered with %q", f.Body)
	}
	g.expect(frames.End, 4)
}

// TestWebSocketCloseCodes: the handler's Close sends its code and reason
// (and no second close at the end); reserved codes are refused; an empty
// close from the gateway is 1005; end without close is io.EOF.
func TestWebSocketCloseCodes(t *testing.T) {
	errs := make(chan error, 4)
	mux := http.NewServeMux()
	mux.HandleFunc("/kick", func(w http.ResponseWriter, r *http.Request) {
		ws, err := AcceptWebSocket(w, r)
		if err != nil {
			t.Error(err)
			return
		}
		if err := ws.Close(1005, ""); err == nil {
			t.Error("Close(1005) accepted: the code is reserved")
		}
		if err := ws.Close(4000, "kicked"); err != nil {
			t.Error(err)
		}
		errs <- ws.WriteMessage(TextMessage, []byte("after close"))
	})
	mux.HandleFunc("/read", echoWS(errs))
	g := newFakeGateway(t, &StreamServer{Handler: mux})

	g.request(1, "GET", "/kick", wsHeaders)
	if f := g.expect(frames.WSClose, 1); string(f.Body) != "4000 kicked" {
		t.Errorf("close %q", f.Body)
	}
	g.expect(frames.End, 1)
	if err := recv(t, errs, "the kick handler"); err != ErrCloseSent {
		t.Errorf("write after Close: %v", err)
	}

	g.request(2, "GET", "/read", wsHeaders)
	g.expect(frames.WSText, 2)
	g.send(frames.WSClose, 2, nil)
	var ce *CloseError
	if err := recv(t, errs, "the handler"); !errors.As(err, &ce) || ce.Code != CloseNoStatusReceived {
		t.Errorf("empty close read as %v", err)
	}
	g.expect(frames.WSClose, 2)
	g.expect(frames.End, 2)

	g.request(3, "GET", "/read", wsHeaders)
	g.expect(frames.WSText, 3)
	g.send(frames.End, 3, nil)
	if err := recv(t, errs, "the handler"); err != io.EOF {
		t.Errorf("ReadMessage after end: %v, want io.EOF", err)
	}
}

// TestWebSocketWindow: WebSocket messages count against the stream's
// window as body bytes do: the fifth message of a quarter window waits
// for credit.
func TestWebSocketWindow(t *testing.T) {
	wrote := make(chan int, 8)
	s := &StreamServer{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := AcceptWebSocket(w, r)
		if err != nil {
			t.Error(err)
			return
		}
		if err := ws.WriteMessage(BinaryMessage, make([]byte, frames.Window+1)); err == nil {
			t.Error("a message over the whole window was accepted")
		}
		for i := range 5 {
			if err := ws.WriteMessage(BinaryMessage, make([]byte, frames.Window/4)); err != nil {
				t.Error(err)
				return
			}
			wrote <- i
		}
	})}
	g := newFakeGateway(t, s)
	g.request(1, "GET", "/ws", wsHeaders)
	for range 4 {
		g.expect(frames.WSBinary, 1)
	}
	for range 4 {
		recv(t, wrote, "a write")
	}
	select {
	case <-wrote:
		t.Fatal("a message past the window was sent without credit")
	default:
	}
	g.send(frames.Credit, 1, fmt.Append(nil, frames.Window/4))
	g.expect(frames.WSBinary, 1)
	recv(t, wrote, "the fifth write")
	g.expect(frames.WSClose, 1)
	g.expect(frames.End, 1)
}

// TestAcceptWebSocketRefuses: not on the buffered Server's writer, not
// without Upgrade, not once the response has started.
func TestAcceptWebSocketRefuses(t *testing.T) {
	r := httptest.NewRequest("GET", "/ws", nil)
	r.Header.Set("Upgrade", "websocket")
	if _, err := AcceptWebSocket(httptest.NewRecorder(), r); err != errNotStream {
		t.Errorf("on a recorder: %v", err)
	}
	errs := make(chan error, 2)
	mux := http.NewServeMux()
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		_, err := AcceptWebSocket(w, r)
		errs <- err
	})
	mux.HandleFunc("/started", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, err := AcceptWebSocket(w, r)
		errs <- err
	})
	g := newFakeGateway(t, &StreamServer{Handler: mux})
	g.request(1, "GET", "/plain", "")
	if err := recv(t, errs, "the handler"); err != errNotUpgrade {
		t.Errorf("without Upgrade: %v", err)
	}
	g.expectResponse(1)
	g.expect(frames.End, 1)
	g.request(2, "GET", "/started", wsHeaders)
	if err := recv(t, errs, "the handler"); err != errStarted {
		t.Errorf("after WriteHeader: %v", err)
	}
	g.expectResponse(2)
	g.expect(frames.End, 2)
}
