package worker

import (
	"net/http/httptest"
	"testing"
)

func TestIDs(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Nanogate-Session", "0123456789abcdeffedcba9876543210")
	r.Header.Set("X-Request-Id", "r-1")
	if got := SessionID(r); got != "0123456789abcdeffedcba9876543210" {
		t.Errorf("SessionID = %q", got)
	}
	if got := RequestID(r); got != "r-1" {
		t.Errorf("RequestID = %q", got)
	}
}
