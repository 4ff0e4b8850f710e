package gateway

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/nanogate/nanogate/bridge"
	"github.com/nanogate/nanogate/hub"
)

func TestRouterOrder(t *testing.T) {
	r := NewRouter([]Route{
		{Name: "root"},
		{Name: "api", Path: "/api/"},
		{Name: "api-v1", Path: "/api/v1/"},
		{Name: "users", Regex: regexp.MustCompile(`^/api/v1/users/[0-9]+$`)},
		{Name: "host", Host: "Example.com", Path: "/"},
	})
	for _, c := range []struct{ host, path, want string }{
		{"a", "/", "root"},
		{"a", "/api/x", "api"},
		{"a", "/api/v1/x", "api-v1"},
		{"a", "/api/v1/users/7", "users"},     // a pattern beats a longer prefix
		{"example.com:8080", "/api/", "host"}, // a named host beats the rest, port ignored
	} {
		got := r.Match([]byte(c.host), []byte(c.path))
		if got == nil || got.Name != c.want {
			t.Errorf("Match(%q, %q) = %v, want %s", c.host, c.path, got, c.want)
		}
	}
	if NewRouter([]Route{{Path: "/only/"}}).Match([]byte("a"), []byte("/")) != nil {
		t.Error("a path outside every route matched")
	}
}

func TestStatusFor(t *testing.T) {
	for err, want := range map[error]int{
		bridge.ErrNoWorker: 503, bridge.ErrBusy: 503, bridge.ErrClosed: 503, hub.ErrNoWorker: 503,
		bridge.ErrTimeout: 504, hub.ErrIdle: 504,
		bridge.ErrWorkerLost: 502, hub.ErrWorkerLost: 502, hub.ErrOverflow: 502,
		fmt.Errorf("wrapped: %w", bridge.ErrTimeout): 504,
		fmt.Errorf("anything else"):                  502,
	} {
		if got := StatusFor(err); got != want {
			t.Errorf("StatusFor(%v) = %d, want %d", err, got, want)
		}
	}
	if !RetryAfter(503) || RetryAfter(502) {
		t.Error("RetryAfter")
	}
}
