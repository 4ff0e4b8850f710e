package worker

import (
	"context"
	"log/slog"
	"sync"

	"github.com/nanogate/nanogate/internal/sp"
)

// spEngine serves tcp:// and ipc:// with package sp, which reads with few
// system calls and batches its writes, where mangos' transports make two or
// three reads per message.
type spEngine struct {
	srv *sp.Server

	reap   sync.Once
	reaped chan struct{} // closed when srv.Shutdown has returned
}

// newSPEngine serves with handler appendReply, whose requests' contexts
// derive from base.
func newSPEngine(s *Server, base context.Context, concurrency, maxRecv int, log *slog.Logger) *spEngine {
	return &spEngine{
		srv: sp.NewServer(sp.ServerConfig{
			Handler:     func(dst, msg []byte) []byte { return s.appendReply(dst, base, msg) },
			Concurrency: concurrency,
			MaxRecvSize: maxRecv,
			Logger:      log.With("component", "worker"),
		}),
		reaped: make(chan struct{}),
	}
}

func (e *spEngine) listen(url string) error { return e.srv.Listen(url) }
func (e *spEngine) dial(url string) error   { return e.srv.Dial(url) }

// serve does nothing: package sp starts its workers on demand, and parks no
// goroutine per unit of Concurrency that every garbage collection would
// scan (a tenth of a busy worker's CPU at Concurrency 1024).
func (e *spEngine) serve() error { return nil }

// shutdown runs sp's Shutdown in a goroutine that ends with the last
// handler: it owns the wait, so that the Server's Shutdown can give up at
// its context's end, and Serve waits for it.
func (e *spEngine) shutdown() <-chan struct{} {
	e.reap.Do(func() {
		go func() {
			defer close(e.reaped)
			e.srv.Shutdown() // replies written, connections closed
		}()
	})
	return e.reaped
}

// close closes the connections at once, then starts the wait for the
// handlers, so that sp's workers end once they return even if nobody
// serves.
func (e *spEngine) close() error {
	e.srv.Close()
	e.shutdown()
	return nil
}
