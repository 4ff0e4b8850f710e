package main

import (
	"log/slog"
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
// the baseline moves up to it. At rest the check is one runtime/metrics
// read. 32 MiB: under that, returning is not worth two GCs.
const (
	returnEvery = 5 * time.Second
	returnAbove = 32 << 20
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
		baseline := heapBytes(s)
		last := baseline
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			heap := heapBytes(s)
			growing := heap > last
			last = heap
			baseline = min(baseline, heap)
			if growing || heap < baseline+returnAbove {
				continue
			}
			runtime.GC()
			debug.FreeOSMemory()
			baseline = heapBytes(s)
			last = baseline
			log.Info("returned free memory to the system", "heap_mib_before", heap>>20, "heap_mib_after", baseline>>20)
		}
	}()
	return done
}
