package zclient

import (
	"bytes"
	"strconv"

	"github.com/nanogate/nanogate/protocol/frames"
	"github.com/nanogate/nanogate/protocol/zhttp"
)

// WebSocket over ZHTTP (Condure's mapping): the first packet's uri is
// ws:// (wss://); the handler accepts with code 101 or refuses with any
// other; then each data packet is a message (content-type "binary" or
// text; more: the message continues in the next packet), type close
// carries the close code and reason. The front end has answered the
// client's handshake before the request reaches the handler, so a refusal
// closes the WebSocket (1008 and the handler's status) instead of
// answering the handshake with it.

// maxWSMessage bounds a handler's message assembled from packets with
// more: the hub's window, what the gateway would hold for it anyway.
const maxWSMessage = frames.Window

// isUpgrade reports a WebSocket upgrade among the packet's headers.
func isUpgrade(p *zhttp.Packet) bool {
	for _, h := range p.Headers {
		if bytes.EqualFold(h.Name, []byte("Upgrade")) && bytes.EqualFold(h.Value, []byte("websocket")) {
			return true
		}
	}
	return false
}

// wsURI is uri with its http scheme made ws (https: wss).
func wsURI(uri []byte) []byte {
	if rest, ok := bytes.CutPrefix(uri, []byte("http")); ok {
		return append([]byte("ws"), rest...)
	}
	return uri
}

// wsSend sends one message of the client to the handler, in packets
// within its credits (more: the message goes on in the next packet).
func (c *conn) wsSend(t frames.Type, msg []byte) error {
	ct := []byte("text")
	if t == frames.WSBinary {
		ct = []byte("binary")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.finished {
			return errHandlerGone
		}
		if c.to != nil && !c.handoff && c.started && (c.credits > 0 || len(msg) == 0) {
			n := min(int64(len(msg)), c.credits)
			c.credits -= n
			more := int64(len(msg)) > n
			if err := c.sendLocked(&zhttp.Packet{Body: msg[:n], More: more, ContentType: ct}); err != nil {
				return err
			}
			if msg = msg[n:]; !more {
				return nil
			}
			continue
		}
		if !c.waitLocked() {
			return errHandlerGone
		}
	}
}

// wsClose sends the client's close (body "code reason") to the handler.
func (c *conn) wsClose(body []byte) error {
	code, reason, ok := frames.ParseClose(body)
	if !ok {
		code = 1005
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.to == nil || c.finished {
		return nil
	}
	c.finished = true // the session is over: no cancel after it
	return c.sendLocked(&zhttp.Packet{Type: zhttp.Close, Code: code, Body: reason})
}

// wsData delivers a handler's data packet of a WebSocket session; c.mu is
// held.
func (c *conn) wsData(p *zhttp.Packet) error {
	f := frames.Frame{SID: c.sid, Stream: c.num}
	if !c.started {
		c.started = true
		if p.Code != 101 {
			c.finished = true
			f.Type = frames.WSClose
			f.Body = frames.AppendClose(nil, 1008, "handler refused: "+strconv.Itoa(p.Code)+" "+string(p.Reason))
			c.s.hub.Deliver(f)
			return nil
		}
		if len(p.Body) == 0 && !p.More {
			return nil // the accept carries no message
		}
	}
	if c.wsMsg == nil {
		c.wsBinary = bytes.Equal(p.ContentType, []byte("binary"))
	}
	if p.More || c.wsMsg != nil {
		if len(c.wsMsg)+len(p.Body) > maxWSMessage {
			c.s.count(dropBadResponse, string(c.id), "WebSocket message over the window")
			c.finished = true
			return errBadResponse
		}
		c.wsMsg = append(c.wsMsg, p.Body...)
		if p.More {
			return nil
		}
		f.Body, c.wsMsg = c.wsMsg, nil
	} else {
		f.Body = p.Body
	}
	f.Type = frames.WSText
	if c.wsBinary {
		f.Type = frames.WSBinary
	}
	c.s.hub.Deliver(f)
	return nil
}

// wsClosed delivers the handler's close; c.mu is held.
func (c *conn) wsClosed(p *zhttp.Packet) {
	c.finished = true
	code := p.Code
	if code == 0 {
		code = 1000
	}
	c.s.hub.Deliver(frames.Frame{SID: c.sid, Stream: c.num, Type: frames.WSClose,
		Body: frames.AppendClose(nil, code, string(p.Body))})
}
