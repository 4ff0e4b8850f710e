package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nanogate/nanogate/internal/sp"
	"github.com/nanogate/nanogate/protocol/frames"
)

// pushWait bounds how long Send waits for the gateway's inbound address to
// accept a connection: long enough for a command started with the gateway,
// short enough that a wrong address fails.
const pushWait = 5 * time.Second

// maxKeptFrame bounds the frame buffer a Pusher keeps between sends.
const maxKeptFrame = 1 << 20

// ErrPusherClosed is returned by Send after Close.
var ErrPusherClosed = errors.New("worker: pusher closed")

// Pusher sends frames to a gateway's inbound address ([sessions] inbound)
// from any process: a message to a client by its session id, without
// being the worker that serves it (docs/PROTOCOL.md, push by session id).
// It is safe for concurrent use; sends are written one at a time.
type Pusher struct {
	url    string
	ctx    context.Context // cancelled by Close: stops a dial in progress
	cancel context.CancelFunc

	mu     sync.Mutex
	c      *sp.Sender
	closed bool
	buf    []byte
}

// NewPusher returns a Pusher for the gateway's inbound address (tcp:// or
// ipc://). It connects on the first Send, and again after the connection
// is lost.
func NewPusher(inboundURL string) (*Pusher, error) {
	_, ok, err := sp.ParseURL(inboundURL)
	if err == nil && !ok {
		err = errors.New("only tcp:// and ipc:// are supported")
	}
	if err != nil {
		return nil, fmt.Errorf("worker: pusher for %s: %w", inboundURL, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pusher{url: inboundURL, ctx: ctx, cancel: cancel}, nil
}

// Send sends one frame to session sessionID (32 lower-case hex digits, as
// in X-Nanogate-Session) on stream (0: the session's current stream). It
// returns once the frame is written to the connection, waiting up to 5
// seconds for one to come up, so that a command may exit right after; it
// does not know whether the gateway found the session (frames for unknown
// sessions are dropped and counted there).
func (p *Pusher) Send(sessionID string, t frames.Type, stream uint32, body []byte) error {
	sid, err := parseSessionID(sessionID)
	if err != nil {
		return err
	}
	if t.String() == "invalid" {
		return fmt.Errorf("worker: push: invalid frame type %d", t)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrPusherClosed
	}
	p.buf = frames.Append(p.buf[:0], sid, t, stream, body)
	defer func() {
		if cap(p.buf) > maxKeptFrame {
			p.buf = nil
		}
	}()
	deadline := time.Now().Add(pushWait)
	for attempt := 0; ; attempt++ {
		if p.c == nil {
			if err := p.connect(deadline); err != nil {
				return err
			}
		}
		err := p.c.Send(p.buf, deadline)
		if err == nil {
			return nil
		}
		// The connection failed before or while the frame went out: it
		// cannot have arrived whole, so one more try on a new connection.
		p.c.Close()
		p.c = nil
		if attempt > 0 || time.Now().After(deadline) {
			return fmt.Errorf("worker: push to %s: %w", p.url, err)
		}
	}
}

// connect dials until it succeeds, deadline passes or Close is called.
func (p *Pusher) connect(deadline time.Time) error {
	ctx, cancel := context.WithDeadline(p.ctx, deadline)
	defer cancel()
	c, err := sp.DialSender(ctx, p.url)
	if err != nil {
		if p.ctx.Err() != nil {
			return ErrPusherClosed
		}
		return fmt.Errorf("worker: push: connect to %s: %w", p.url, err)
	}
	p.c = c
	return nil
}

// Text sends a WebSocket text message to the session's client.
func (p *Pusher) Text(sessionID, msg string) error {
	return p.Send(sessionID, frames.WSText, 0, []byte(msg))
}

// Binary sends a WebSocket binary message to the session's client.
func (p *Pusher) Binary(sessionID string, b []byte) error {
	return p.Send(sessionID, frames.WSBinary, 0, b)
}

// CloseSession closes the session's WebSocket with code and reason; code
// 0 sends an empty close, which the gateway sends as 1000.
func (p *Pusher) CloseSession(sessionID string, code int, reason string) error {
	var body []byte
	if code != 0 {
		body = frames.AppendClose(nil, code, reason)
	}
	return p.Send(sessionID, frames.WSClose, 0, body)
}

// Close closes the connection. Every Send that returned nil has written
// its frame already, and the kernel delivers it after the close: there is
// no queue to flush.
func (p *Pusher) Close() error {
	p.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.c != nil {
		p.c.Close()
		p.c = nil
	}
	return nil
}

// parseSessionID reads a session id as frames carry it: 32 lower-case hex
// digits.
func parseSessionID(s string) (sid [16]byte, err error) {
	if sid, err = frames.ParseSID([]byte(s)); err != nil {
		return sid, fmt.Errorf("worker: session id %q is not 32 lower-case hex digits", s)
	}
	return sid, nil
}
