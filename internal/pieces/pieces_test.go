package pieces

import (
	"bytes"
	"testing"
)

func TestCopy(t *testing.T) {
	for _, n := range []int{0, 1, small/2 - 1, small / 2, small, small + 1, large/2 - 1, large / 2, large, large + 1} {
		b := bytes.Repeat([]byte{7}, n)
		bp := Copy(b)
		if !bytes.Equal(*bp, b) {
			t.Fatalf("%d bytes: copy differs", n)
		}
		// A buffer is at most twice what it holds (past the allocator's
		// small size classes): the bound of a queue that counts bytes
		// stays within twice in memory.
		if n >= 1024 && cap(*bp) > 2*n {
			t.Fatalf("%d bytes held in a buffer of %d", n, cap(*bp))
		}
		Put(bp)
	}
	Put(nil)
}

func TestZeroAllocsWhenWarm(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector empties sync.Pools at random")
	}
	b := make([]byte, small)
	Put(Copy(b))
	if n := testing.AllocsPerRun(100, func() { Put(Copy(b)) }); n > 0.5 {
		t.Fatalf("%v allocations per copy of a pooled size", n)
	}
}
