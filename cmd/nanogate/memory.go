package main

import (
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory after a spike. An attack (slow readers holding large replies,
// thousands of connections at once) grows the heap. When it is over, the
// memory stays with the process: the reply buffers sit in pools that only
// a GC empties, an idle gateway allocates nothing and so runs no GC, and
// Go's scavenger then returns free pages only gradually. Measured: 400 slow
// readers of 256 KiB took RSS from 15 to 85 MiB, and it stayed there.
//
// So every returnEvery the gateway looks at its heap. When the heap is
// returnAbove over what it was after the last return, and has stopped
// growing (the spike is over, or at least at its top), it runs two GCs
// (the second empties what the first moved to sync.Pool's victim cache)
// and releases the free pages at once (debug.FreeOSMemory). A heap that
// stays large for good reasons costs one such return, not one per tick:
// when the heap is back within returnAbove of where the last return took
// it from, within comeback of that return, the load needs it, and the
// baseline moves up to it. (A return leaves the heap at its live bytes, and
// a loaded gateway grows it back to its GC goal, twice that with GOGC=100:
// with 32 MiB or more live, the baseline set after the return alone was
// soon exceeded again, and the gateway returned, with two forced GCs and a
// log line, every 10 to 20 s for as long as the load lasted.) At rest the
// check is one runtime/metrics read. 32 MiB: under that, returning is not
// worth two GCs.
const (
	returnEvery = 5 * time.Second
	returnAbove = 32 << 20
	comeback    = time.Minute
)

var heapMetrics = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
}

// heapBytes is the heap the process holds and has not released.
func heapBytes(s []metrics.Sample) uint64 {
	metrics.Read(s)
	var n uint64
	for _, x := range s {
		n += x.Value.Uint64()
	}
	return n
}

// returnMemory runs until stop is closed; its owner waits on the returned
// channel.
func returnMemory(stop <-chan struct{}, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(returnEvery)
		defer tick.Stop()
		s := make([]metrics.Sample, len(heapMetrics))
		for i, name := range heapMetrics {
			s[i].Name = name
		}
		w := newHeapWatch(heapBytes(s))
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			heap := heapBytes(s)
			if !w.check(heap) {
				continue
			}
			runtime.GC()
			debug.FreeOSMemory()
			after := heapBytes(s)
			w.returned(heap, after)
			log.Info("returned free memory to the system", "heap_mib_before", heap>>20, "heap_mib_after", after>>20)
		}
	}()
	return done
}

// heapWatch decides, from one look at the heap every returnEvery, when
// to return memory.
type heapWatch struct {
	baseline, last uint64 // the lowest heap since the last return; the last look
	from           uint64 // the heap the last return started from
	since          int    // looks since the last return
}

func newHeapWatch(heap uint64) *heapWatch {
	return &heapWatch{baseline: heap, last: heap, since: math.MaxInt}
}

// check is told the heap now and reports whether to return memory.
func (w *heapWatch) check(heap uint64) bool {
	growing := heap > w.last
	w.last = heap
	w.baseline = min(w.baseline, heap)
	if w.since < math.MaxInt {
		w.since++
	}
	if growing || heap < w.baseline+returnAbove {
		return false
	}
	if w.since <= int(comeback/returnEvery) && heap+returnAbove > w.from {
		w.baseline = heap // back where the last return found it: the load's own
		return false
	}
	return true
}

// returned records a return that took the heap from before to after.
func (w *heapWatch) returned(before, after uint64) {
	w.baseline, w.last, w.from, w.since = after, after, before, 0
}
