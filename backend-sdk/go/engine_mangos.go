package worker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol/rep"

	// tls+tcp, ws, wss and inproc are served here (tcp and ipc by package
	// sp): a worker serves whatever endpoint URL its gateway is configured
	// with.
	_ "go.nanomsg.org/mangos/v3/transport/all"
)

// replyLinger is how long shutdown waits after the last reply before the
// socket may be closed. mangos v3 has no linger (OptionLinger is declared
// but unused): REP's SendMsg returns once a pipe's sender goroutine has
// taken the message, closing the socket closes the connection under a
// write still in progress, and a REQ socket cancels the requests of a pipe
// that closes even when their reply is already on its way. Without this
// wait TestShutdownWaitsForInFlight lost about half of its replies, over
// inproc, ipc and tcp alike (all on mangos then).
const replyLinger = 250 * time.Millisecond

// epoch anchors lastReply to the monotonic clock.
var epoch = time.Now()

// mangosEngine serves the schemes package sp does not speak with a mangos
// REP socket: Concurrency contexts, each with its goroutine (loop).
type mangosEngine struct {
	sock        mangos.Socket
	concurrency int
	tls         *tls.Config
	log         *slog.Logger
	handle      func(msg []byte) *mangos.Message // the reply is the caller's
	failed      func()                           // every loop ended on its own

	mu    sync.Mutex
	loops []*loop // opened by serve

	stopping  atomic.Bool    // shutdown or close called: take no new request
	wg        sync.WaitGroup // the loops
	running   atomic.Int32   // loops not ended
	lastReply atomic.Int64   // time.Since(epoch) when the last reply was sent

	drain    sync.Once
	drained  chan struct{} // returned by shutdown
	closing  chan struct{} // closed by close: the linger is cut short
	closeOne sync.Once
}

// loop is one REP context and the goroutine that serves it.
type loop struct {
	ctx   mangos.Context
	state atomic.Int32
}

// Loop states. shutdown closes idle contexts (blocked in RecvMsg, which only
// a close can wake) and waits for busy ones; the compare-and-swap on state
// decides a message that arrives while shutdown runs.
const (
	loopIdle int32 = iota
	loopBusy
	loopClosed
)

// newMangosEngine opens the REP socket. The receive limit is a socket
// option that mangos copies into each listener and dialer as it is
// created, so it is set here, before any listen or dial.
func newMangosEngine(s *Server, base context.Context, concurrency, maxRecv int, log *slog.Logger, failed func()) (*mangosEngine, error) {
	sock, err := rep.NewSocket()
	if err != nil {
		return nil, fmt.Errorf("worker: new REP socket: %w", err)
	}
	if err := sock.SetOption(mangos.OptionMaxRecvSize, maxRecv); err != nil {
		_ = sock.Close()
		return nil, fmt.Errorf("worker: set receive limit: %w", err)
	}
	e := &mangosEngine{
		sock: sock, concurrency: concurrency, tls: s.TLSConfig, log: log,
		handle:  func(msg []byte) *mangos.Message { return s.serveMessage(base, msg) },
		failed:  failed,
		drained: make(chan struct{}),
		closing: make(chan struct{}),
	}
	sock.SetPipeEventHook(e.pipeEvent)
	return e, nil
}

func (e *mangosEngine) listen(url string) error {
	return e.sock.ListenOptions(url, e.options(url, false))
}

// dial returns once the dialer is set up: mangos connects in the
// background and reconnects with backoff whenever the connection drops.
func (e *mangosEngine) dial(url string) error {
	return e.sock.DialOptions(url, e.options(url, true))
}

// serve opens the REP contexts and starts their loops. They exist only for
// mangos: each parks a goroutine that every garbage collection scans.
func (e *mangosEngine) serve() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.loops != nil || e.stopping.Load() {
		return nil
	}
	loops := make([]*loop, 0, e.concurrency)
	for range e.concurrency {
		c, err := e.sock.OpenContext()
		if err != nil {
			for _, l := range loops {
				_ = l.ctx.Close()
			}
			return fmt.Errorf("worker: open REP context: %w", err)
		}
		loops = append(loops, &loop{ctx: c})
	}
	e.loops = loops
	e.running.Add(int32(len(loops)))
	for _, l := range loops {
		e.wg.Go(func() { e.run(l) })
	}
	return nil
}

// shutdown closes the idle contexts and, in a goroutine that ends with the
// last handler, waits for the busy ones, then for replyLinger after the
// last reply (cut short by close).
func (e *mangosEngine) shutdown() <-chan struct{} {
	e.drain.Do(func() {
		e.stopping.Store(true)
		e.mu.Lock()
		loops := e.loops
		e.mu.Unlock()
		for _, l := range loops {
			if l.state.CompareAndSwap(loopIdle, loopClosed) {
				_ = l.ctx.Close()
			}
		}
		go func() {
			defer close(e.drained)
			e.wg.Wait()
			e.linger()
		}()
	})
	return e.drained
}

func (e *mangosEngine) linger() {
	last := e.lastReply.Load()
	if last == 0 {
		return
	}
	if d := time.Duration(last) + replyLinger - time.Since(epoch); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-e.closing:
		}
	}
}

// close closes the socket: idle loops end at once, busy ones when their
// handler returns, and mangos drops their replies.
func (e *mangosEngine) close() error {
	e.stopping.Store(true)
	e.closeOne.Do(func() { close(e.closing) })
	if err := e.sock.Close(); err != nil && !errors.Is(err, mangos.ErrClosed) {
		return fmt.Errorf("worker: close socket: %w", err)
	}
	return nil
}

// run is one loop: receive, handle, reply, until the engine stops.
func (e *mangosEngine) run(l *loop) {
	defer func() {
		_ = l.ctx.Close() // shutdown may have closed it already
		if e.running.Add(-1) == 0 && !e.stopping.Load() {
			e.failed()
		}
	}()
	for {
		l.state.Store(loopIdle)
		// Checked after going idle: shutdown sets stopping before it looks
		// for idle loops, so either this sees stopping or shutdown sees the
		// loop idle and closes its context.
		if e.stopping.Load() {
			return
		}
		m, err := l.ctx.RecvMsg()
		if err != nil {
			if !errors.Is(err, mangos.ErrClosed) {
				e.log.Error("worker: receive failed", "err", err)
			}
			return
		}
		if !l.state.CompareAndSwap(loopIdle, loopBusy) {
			// shutdown closed the context as this message arrived, and
			// mangos sends nothing on a closed context.
			m.Free()
			return
		}
		reply := e.handle(m.Body)
		m.Free()
		// On success mangos owns the reply; it is also dropped, with a nil
		// error, when the gateway's connection has gone.
		if err := l.ctx.SendMsg(reply); err != nil {
			reply.Free()
			if errors.Is(err, mangos.ErrClosed) {
				return
			}
			e.log.Warn("worker: send failed", "err", err)
			continue
		}
		e.lastReply.Store(int64(time.Since(epoch)))
	}
}

// options are the per-endpoint options: an asynchronous first dial (mangos'
// synchronous one fails, without retrying, if the gateway is not up yet),
// and the TLS configuration for the schemes that use one.
func (e *mangosEngine) options(url string, dial bool) map[string]any {
	opts := make(map[string]any, 2)
	if dial {
		opts[mangos.OptionDialAsynch] = true
	}
	if e.tls != nil && (strings.HasPrefix(url, "tls+tcp://") || strings.HasPrefix(url, "wss://")) {
		opts[mangos.OptionTLSConfig] = e.tls
	}
	return opts
}

// pipeEvent logs gateway connections: with an asynchronous dial, this is
// the only sign that a worker has reached its gateway.
func (e *mangosEngine) pipeEvent(ev mangos.PipeEvent, p mangos.Pipe) {
	switch ev {
	case mangos.PipeEventAttached:
		e.log.Info("worker: gateway connected", "endpoint", p.Address(), "pipe", p.ID())
	case mangos.PipeEventDetached:
		e.log.Info("worker: gateway disconnected", "endpoint", p.Address(), "pipe", p.ID())
	}
}
