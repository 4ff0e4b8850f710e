package frontend

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// observed records what the server tells its Observer.
type observed struct {
	mu    sync.Mutex
	calls []string
	got   chan struct{}
}

func (o *observed) Served(r *Route, status int, elapsed time.Duration) {
	name := "<none>"
	if r != nil {
		name = r.Name
	}
	o.mu.Lock()
	o.calls = append(o.calls, name+" "+http.StatusText(status))
	o.mu.Unlock()
	if elapsed < 0 {
		panic("negative elapsed")
	}
	o.got <- struct{}{}
}

// TestObserver: every request reaches the observer with its route (none
// for a 404) and the status the client got.
func TestObserver(t *testing.T) {
	o := &observed{got: make(chan struct{}, 8)}
	addr := startServer(t, Config{Observer: o, Routes: []Route{
		{Name: "api", Path: "/api/", Upstream: reply("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")},
	}})
	for _, path := range []string{"/api/x", "/nowhere"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		select {
		case <-o.got:
		case <-time.After(5 * time.Second):
			t.Fatal("observer not called")
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.calls) != 2 || o.calls[0] != "api Created" || o.calls[1] != "<none> Not Found" {
		t.Fatalf("observer saw %q", o.calls)
	}
}
