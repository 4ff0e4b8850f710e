package zmqstream

import (
	"fmt"
	"testing"
)

// The identities closed here are remembered, the last closedMemory of them.
func TestClosedIDs(t *testing.T) {
	var s closedIDs
	id := func(i int) []byte { return fmt.Appendf(nil, "\x00%04d", i) }
	for i := range closedMemory + 10 {
		s.add(id(i))
	}
	for _, c := range []struct {
		i    int
		want bool
	}{{0, false}, {9, false}, {10, true}, {closedMemory + 9, true}, {closedMemory + 10, false}} {
		if got := s.has(id(c.i)); got != c.want {
			t.Errorf("has(%d) = %v, want %v", c.i, got, c.want)
		}
	}
	if len(s.set) != closedMemory {
		t.Errorf("%d remembered, want %d", len(s.set), closedMemory)
	}
}
