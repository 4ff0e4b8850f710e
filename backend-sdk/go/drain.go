package worker

import (
	"context"
	"errors"
	"os"
	ossignal "os/signal"
	"syscall"
	"time"
)

// DrainTimeout is how long ListenAndServe and DialAndServe give the
// requests in flight when they drain.
const DrainTimeout = 30 * time.Second

// ServeUntilSignal serves until SIGTERM or SIGINT, then drains: it stops
// taking requests and tells the gateway so (on tcp:// and ipc://, the
// gateway then sends this worker nothing new and serves what it would
// have sent elsewhere), finishes the requests in flight, and returns nil;
// past timeout it closes and returns the context's error. A rolling
// restart of workers, one SIGTERM at a time, so loses no request.
func (s *Server) ServeUntilSignal(timeout time.Duration) error {
	sig := make(chan os.Signal, 1)
	ossignal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer ossignal.Stop(sig)
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	select {
	case err := <-served:
		return err
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.Shutdown(ctx)
	if serr := <-served; serr != nil && !errors.Is(serr, ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
