package frontend

import (
	"log/slog"
	"testing"
	"unsafe"
)

// depthUpstream measures, at the deepest point of the request path (the
// round trip), how far the stack is below the goroutine's first frame.
type depthUpstream struct {
	top   uintptr
	depth uintptr
	reply []byte
}

func (d *depthUpstream) RoundTrip(dst, msg []byte, safe bool) ([]byte, error) {
	var here byte
	d.depth = d.top - uintptr(unsafe.Pointer(&here))
	return append(dst, d.reply...), nil
}

// stackBudget bounds the stack the request path of this package uses,
// from handle down to the upstream's round trip. A goroutine keeps the
// stack its deepest request needed for as long as the connection is idle
// (Go shrinks stacks only at a garbage collection, and an idle gateway
// runs none): when fasthttp's frames, ours and the bridge's together passed
// 4 KiB, each idle keep-alive connection went from 6.5 to 10.7 KiB
// (bench/harness --scenario idle). Ours was 1288 bytes before that, 1768
// at the worst, 1160 once the rare branches moved out of line.
const stackBudget = 1300

// TestStackBudget holds the request path to stackBudget.
func TestStackBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation changes frame sizes")
	}
	up := &depthUpstream{reply: []byte(benchReply)}
	s := New(Config{Logger: slog.New(slog.DiscardHandler), Routes: []Route{{Name: "api", Path: "/api/", Forward: true, Upstream: up}}})
	ctx := newCtx(t, benchRequest)
	done := make(chan struct{})
	go func() {
		grow(64) // the stack grows now, so that it does not move while measured
		var top byte
		up.top = uintptr(unsafe.Pointer(&top))
		s.handle(ctx)
		close(done)
	}()
	<-done
	if up.depth == 0 || up.depth > stackBudget {
		t.Fatalf("handle uses %d bytes of stack down to the round trip, budget %d", up.depth, stackBudget)
	}
}

//go:noinline
func grow(n int) byte {
	var pad [512]byte
	if n == 0 {
		return pad[0]
	}
	pad[n%512] = byte(n)
	return grow(n-1) + pad[n%512]
}
