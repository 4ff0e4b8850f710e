package hub

import (
	"sync/atomic"
	"testing"

	"github.com/nanogate/nanogate/protocol/frames"
)

// funcWorker is a Worker that counts what it is given.
type funcWorker struct {
	done       chan struct{}
	sent, pins atomic.Int32
}

func (w *funcWorker) Send([16]byte, uint32, frames.Type, []byte) error { w.sent.Add(1); return nil }
func (w *funcWorker) Done() <-chan struct{}                            { return w.done }
func (w *funcWorker) Pin(delta int)                                    { w.pins.Add(int32(delta)) }

type pickFunc func(skip Worker) Worker

func (f pickFunc) Pick(skip Worker) Worker { return f(skip) }

// TestPingDuringRetry: Deliver answers a ping on the stream's worker from
// the delivering goroutine while the owner moves the stream to another
// worker (Retry). The worker was read and written unguarded (go test -race
// reports it; a torn interface value is a wild call).
func TestPingDuringRetry(t *testing.T) {
	h, err := New(Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	a, b := &funcWorker{done: make(chan struct{})}, &funcWorker{done: make(chan struct{})}
	st, err := h.Open(pickFunc(func(skip Worker) Worker {
		if skip == Worker(a) {
			return b
		}
		return a
	}), [16]byte{1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		for range n {
			h.Deliver(frames.Frame{SID: st.SID, Type: frames.Ping, Stream: st.Num})
		}
	}()
	for range n {
		if err := st.Retry(); err != nil {
			t.Fatal(err)
		}
	}
	<-pinged
	st.Close(false)
	if got := a.sent.Load() + b.sent.Load(); got != n {
		t.Errorf("%d pongs sent for %d pings", got, n)
	}
	if a.pins.Load() != 0 || b.pins.Load() != 0 {
		t.Errorf("pins left: %d, %d", a.pins.Load(), b.pins.Load())
	}
}
