package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nanogate/nanogate/internal/sp"
)

const (
	// sendWait bounds how long a frame waits for the connection to the
	// gateway's inbound address: the first frames of a worker, or after the
	// gateway restarted.
	sendWait = 5 * time.Second

	// maxInbounds bounds the PUSH sockets a StreamServer keeps. A gateway
	// names one inbound address; the bound keeps a request head that names
	// many (a client's own X-Nanogate-Inbound, were a gateway to pass it on)
	// from opening a socket each.
	maxInbounds = 16
)

// errNoInbound: the request names no inbound address to answer to.
var errNoInbound = errors.New("worker: request frame has no X-Nanogate-Inbound header")

// outbound holds the PUSH sockets to the gateways' inbound addresses, one
// per address, created on first use and shared by every stream that
// answers there (docs/PROTOCOL.md, format frames, transport).
type outbound struct {
	log *slog.Logger

	mu     sync.Mutex
	pushes map[string]*sp.Push
	closed bool
}

// push returns the socket for url, dialling it on first use.
func (o *outbound) push(url string) (*sp.Push, error) {
	if url == "" {
		return nil, errNoInbound
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrServerClosed
	}
	if p := o.pushes[url]; p != nil {
		return p, nil
	}
	if len(o.pushes) >= maxInbounds {
		return nil, fmt.Errorf("worker: inbound %s: already %d inbound addresses", url, maxInbounds)
	}
	if !sp.Supported(url) {
		return nil, fmt.Errorf("worker: inbound %s: only tcp:// and ipc:// are supported", url)
	}
	p, err := sp.NewPush(sp.LinkConfig{URL: url, Logger: o.log, PeerName: "gateway"})
	if err != nil {
		return nil, fmt.Errorf("worker: inbound %s: %w", url, err)
	}
	if o.pushes == nil {
		o.pushes = make(map[string]*sp.Push)
	}
	o.pushes[url] = p
	return p, nil
}

// send queues one frame (its header and body) on p's connection, waiting
// up to sendWait for one. A connection that failed before the frame was
// queued is replaced by the next one (sp sends nothing on a dead
// connection, so this sends no frame twice).
func (o *outbound) send(p *sp.Push, hdr, body []byte) error {
	var err error
	for range 2 {
		pe := p.Pick()
		if pe == nil {
			ctx, cancel := context.WithTimeout(context.Background(), sendWait)
			pe, err = p.Wait(ctx)
			cancel()
			if err != nil {
				return fmt.Errorf("worker: send to the gateway's inbound: %w", err)
			}
		}
		if err = pe.Send(hdr, body); err == nil {
			return nil
		}
	}
	return fmt.Errorf("worker: send to the gateway's inbound: %w", err)
}

// flush writes what every socket has queued, then closes it.
func (o *outbound) flush() {
	o.mu.Lock()
	pushes := o.pushes
	o.pushes = nil
	o.mu.Unlock()
	for _, p := range pushes {
		_ = p.Flush()
	}
}

// close closes every socket; frames not yet written are dropped.
func (o *outbound) close() {
	o.mu.Lock()
	pushes := o.pushes
	o.pushes, o.closed = nil, true
	o.mu.Unlock()
	for _, p := range pushes {
		_ = p.Close()
	}
}
