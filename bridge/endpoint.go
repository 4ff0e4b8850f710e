package bridge

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nanogate/nanogate/internal/sp"
	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol/req"
	// Register every transport an endpoint URL may name: ipc, tcp, tls+tcp,
	// ws, wss, inproc.
	_ "go.nanomsg.org/mangos/v3/transport/all"
)

// Endpoint is one address of a pool.
type Endpoint struct {
	URL      string
	Listen   bool        // bind and let workers dial in; zero: dial a worker that binds (mod_nano's model)
	Priority int         // lower is preferred; zero: 0
	TLS      *tls.Config // for tls+tcp:// and wss://; zero: the system's roots when dialling (listening needs one)
}

// endpoint is one address of a pool and the transport that reaches it.
type endpoint struct {
	Endpoint
	transport
	requests, failures atomic.Uint64 // sent to it; failed (lost, timed out, refused) there
	health             health
}

// transport reaches the workers of one endpoint. Its errors are this
// package's sentinels.
type transport interface {
	roundTrip(dst, msg []byte) ([]byte, error)
	workers() int  // connected workers
	inFlight() int // requests in flight
	close() error
}

// openEndpoint picks the transport: package sp for tcp:// and ipc:// (see
// its doc for why), mangos for the others.
func openEndpoint(e Endpoint, c *Config, log *slog.Logger) (*endpoint, error) {
	log = log.With("endpoint", e.URL)
	var t transport
	var err error
	if sp.Supported(e.URL) && !c.mangos {
		t, err = openSP(e, c, log)
	} else {
		t, err = openMangos(e, c, log)
	}
	if err != nil {
		return nil, err
	}
	return &endpoint{Endpoint: e, transport: t}, nil
}

// spEndpoint adapts sp.Client.
type spEndpoint struct{ c *sp.Client }

func openSP(e Endpoint, c *Config, log *slog.Logger) (transport, error) {
	client, err := sp.NewClient(sp.ClientConfig{
		URL: e.URL, Listen: e.Listen, Slots: c.contexts(), Timeout: c.timeout(),
		MaxRecvSize: c.maxReplyBytes(), Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", e.URL, err)
	}
	return spEndpoint{client}, nil
}

func (s spEndpoint) roundTrip(dst, msg []byte) ([]byte, error) {
	reply, err := s.c.RoundTrip(dst, msg)
	switch err {
	case nil:
		return reply, nil
	case sp.ErrNoPeer:
		return reply, ErrNoWorker
	case sp.ErrBusy:
		return reply, ErrBusy
	case sp.ErrTimeout:
		return reply, ErrTimeout
	case sp.ErrLost:
		return reply, ErrWorkerLost
	case sp.ErrReplyTooLarge:
		return reply, ErrReplyTooLarge
	case sp.ErrClosed:
		return reply, ErrClosed
	}
	return reply, err
}

func (s spEndpoint) workers() int  { return s.c.Peers() }
func (s spEndpoint) inFlight() int { return s.c.InFlight() }
func (s spEndpoint) close() error  { return s.c.Close() }

// mangosEndpoint is one mangos REQ socket and its fixed pool of contexts.
type mangosEndpoint struct {
	sock  mangos.Socket
	free  chan mangos.Context // idle contexts; its capacity is the in-flight limit
	pipes atomic.Int32        // connected workers
	log   *slog.Logger
}

// Reconnection pacing for dialled endpoints: quick enough that a restarted
// worker takes traffic back within a second or two, slow enough not to spin
// on a missing socket file.
const (
	reconnectMin = 50 * time.Millisecond
	reconnectMax = time.Second
)

func openMangos(e Endpoint, c *Config, log *slog.Logger) (transport, error) {
	sock, err := req.NewSocket()
	if err != nil {
		return nil, err
	}
	ep := &mangosEndpoint{
		sock: sock,
		free: make(chan mangos.Context, c.contexts()),
		log:  log,
	}
	sock.SetPipeEventHook(ep.pipeEvent)
	opts := []struct {
		name  string
		value any
	}{
		{mangos.OptionRetryTime, time.Duration(0)}, // never resend; see the package doc
		{mangos.OptionMaxRecvSize, c.maxReplyBytes()},
		{mangos.OptionRecvDeadline, c.timeout()},
		{mangos.OptionSendDeadline, c.timeout()},
		{mangos.OptionFailNoPeers, true},
		{mangos.OptionReconnectTime, reconnectMin},
		{mangos.OptionMaxReconnectTime, reconnectMax},
	}
	for _, o := range opts {
		if err := sock.SetOption(o.name, o.value); err != nil {
			sock.Close()
			return nil, fmt.Errorf("endpoint %s: option %s: %w", e.URL, o.name, err)
		}
	}
	// Contexts inherit the socket's options, so they are opened after them.
	for range cap(ep.free) {
		ctx, err := sock.OpenContext()
		if err != nil {
			sock.Close()
			return nil, fmt.Errorf("endpoint %s: open context: %w", e.URL, err)
		}
		ep.free <- ctx
	}
	var tlsOpt map[string]any
	if e.TLS != nil {
		tlsOpt = map[string]any{mangos.OptionTLSConfig: e.TLS}
	}
	if e.Listen {
		err = sock.ListenOptions(e.URL, tlsOpt)
	} else {
		// mangos redials in the background and says nothing of a dial
		// that fails, a TLS handshake refused included: one dial first,
		// in the open, so that the log tells why a worker is not there.
		// It connected: mangos keeps that dialer redialling. It did not:
		// the asynchronous dialer takes over (the gateway starts before
		// its workers, and a worker that restarts is found again).
		if err = sock.DialOptions(e.URL, tlsOpt); err != nil {
			log.Warn("worker not reachable yet; redialling in the background", "err", err)
			opts := map[string]any{mangos.OptionDialAsynch: true}
			for k, v := range tlsOpt {
				opts[k] = v
			}
			err = sock.DialOptions(e.URL, opts)
		}
	}
	if err != nil {
		sock.Close()
		return nil, fmt.Errorf("endpoint %s: %w", e.URL, err)
	}
	return ep, nil
}

func (ep *mangosEndpoint) pipeEvent(ev mangos.PipeEvent, p mangos.Pipe) {
	switch ev {
	case mangos.PipeEventAttached:
		n := ep.pipes.Add(1)
		ep.log.Info("worker connected", "pipe", p.ID(), "workers", n)
	case mangos.PipeEventDetached:
		n := ep.pipes.Add(-1)
		ep.log.Warn("worker disconnected", "pipe", p.ID(), "workers", n)
	}
}

func (ep *mangosEndpoint) inFlight() int { return cap(ep.free) - len(ep.free) }
func (ep *mangosEndpoint) workers() int  { return int(ep.pipes.Load()) }

// roundTrip sends msg on one context and appends the reply to dst.
func (ep *mangosEndpoint) roundTrip(dst, msg []byte) ([]byte, error) {
	var ctx mangos.Context
	select {
	case ctx = <-ep.free:
	default:
		return dst, ErrBusy
	}
	defer func() { ep.free <- ctx }()

	m := mangos.NewMessage(len(msg))
	m.Body = append(m.Body, msg...)
	if err := ctx.SendMsg(m); err != nil {
		m.Free()
		return dst, sendError(err)
	}
	reply, err := ctx.RecvMsg()
	if err != nil {
		return dst, recvError(err)
	}
	dst = append(dst, reply.Body...)
	reply.Free()
	return dst, nil
}

func sendError(err error) error {
	switch err {
	case mangos.ErrNoPeers:
		return ErrNoWorker
	case mangos.ErrSendTimeout:
		return ErrTimeout
	case mangos.ErrClosed:
		return ErrClosed
	}
	return fmt.Errorf("bridge: send: %w", err)
}

// recvError maps a receive failure. The request was sent, so losing every
// worker now (ErrNoPeers) or the one that had it (ErrCanceled, as mangos'
// REQ cancels a context whose pipe closes when resending is off) means the
// request was lost in flight, not that no worker was there.
func recvError(err error) error {
	switch err {
	case mangos.ErrRecvTimeout:
		return ErrTimeout
	case mangos.ErrNoPeers, mangos.ErrCanceled:
		return ErrWorkerLost
	case mangos.ErrClosed:
		return ErrClosed
	}
	return fmt.Errorf("bridge: receive: %w", err)
}

func (ep *mangosEndpoint) close() error { return ep.sock.Close() }
