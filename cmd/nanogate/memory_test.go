package main

import "testing"

// heapRun feeds w one look per element (MiB) and counts the returns, each
// taking the heap down to live MiB.
func heapRun(w *heapWatch, live uint64, looks ...uint64) (returns int) {
	for _, h := range looks {
		if w.check(h << 20) {
			w.returned(h<<20, live<<20)
			returns++
		}
	}
	return returns
}

// TestHeapWatchSteadyLoad: a loaded gateway with 48 MiB live grows its
// heap back to its GC goal (96 MiB) after a return; that costs one return,
// not one every few looks for as long as the load lasts.
func TestHeapWatchSteadyLoad(t *testing.T) {
	w := newHeapWatch(10 << 20)
	looks := []uint64{30, 60, 96, 96} // the load arrives; at its top: a return
	for range 60 {                    // five minutes of load: back to the goal, flat
		looks = append(looks, 70, 96, 96, 95, 96)
	}
	if n := heapRun(w, 48, looks...); n != 1 {
		t.Fatalf("%d returns under a steady load, want 1", n)
	}
	// Much later, a spike over that: returned again, once.
	if n := heapRun(w, 48, 150, 200, 200, 60, 60, 60); n != 1 {
		t.Fatalf("%d returns for a later spike, want 1", n)
	}
}

// TestHeapWatchSpike: a spike that is over is returned once it stops
// growing; a heap under returnAbove over its baseline never is.
func TestHeapWatchSpike(t *testing.T) {
	w := newHeapWatch(15 << 20)
	if n := heapRun(w, 15, 20, 40, 20, 46, 46, 46); n != 0 {
		t.Fatalf("%d returns for a heap under 32 MiB over its baseline", n)
	}
	if n := heapRun(w, 15, 50, 85, 85); n != 1 {
		t.Fatalf("%d returns for a spike of 70 MiB, want 1", n)
	}
	if n := heapRun(w, 15, 15, 16, 15, 16); n != 0 {
		t.Fatalf("%d returns at rest after the spike", n)
	}
}
