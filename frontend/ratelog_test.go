package frontend

import "testing"

func TestRateLimit(t *testing.T) {
	r := rateLimit{perSecond: 3}
	r.window.Store(1 << 62) // a second long past the next allow
	allowed := 0
	for range 10 {
		if ok, _ := r.allow(); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("%d lines let through in one second, want 3", allowed)
	}
	// A new second lets lines through again, the first one with the count.
	r.window.Store(0)
	ok, held := r.allow()
	if !ok || held != 7 {
		t.Fatalf("next second: ok %v, held %d, want true 7", ok, held)
	}
}
