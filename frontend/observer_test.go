package frontend

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nanogate/nanogate/bridge"
	"github.com/nanogate/nanogate/gateway"
)

// observed records what the server tells its Observer.
type observed struct {
	mu    sync.Mutex
	calls []string
	got   chan struct{}
}

func (o *observed) Served(x gateway.Exchange) {
	name := "<none>"
	if x.Route != nil {
		name = x.Route.Name
	}
	o.mu.Lock()
	o.calls = append(o.calls, fmt.Sprintf("%s %s %d %s %d %s", name, x.Method, x.Status, x.Reason, x.Bytes, x.RequestID))
	o.mu.Unlock()
	o.got <- struct{}{}
}

func (o *observed) wait(t *testing.T) string {
	t.Helper()
	select {
	case <-o.got:
	case <-time.After(5 * time.Second):
		t.Fatal("observer not called")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls[len(o.calls)-1]
}

// failing is an upstream whose error names an internal address, as a
// bridge error does.
type failing struct{}

func (failing) RoundTrip(dst, msg []byte, safe bool) ([]byte, error) {
	return dst, &bridge.EndpointError{URL: "ipc:///secret/worker.sock", Err: bridge.ErrWorkerLost}
}

// TestObserverAndRequestID: every request reaches the observer with its
// route (none for a 404), status, reason and request id; the client gets
// X-Request-Id on every reply, and an error body names the request id but
// no internal address.
func TestObserverAndRequestID(t *testing.T) {
	o := &observed{got: make(chan struct{}, 8)}
	addr := startServer(t, Config{Observer: o, Routes: []Route{
		{Name: "api", Path: "/api/", Upstream: reply("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")},
		{Name: "bad", Path: "/bad/", Upstream: failing{}},
	}})
	get := func(path string, hdr ...string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		for i := 0; i < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}

	resp, _ := get("/api/x", "X-Request-Id", "client-chosen-1")
	if got := o.wait(t); got != "api GET 201  2 client-chosen-1" || resp.Header.Get("X-Request-Id") != "client-chosen-1" {
		t.Fatalf("observer %q, header %q", got, resp.Header.Get("X-Request-Id"))
	}
	resp, _ = get("/nowhere")
	rid := resp.Header.Get("X-Request-Id")
	if got := o.wait(t); len(rid) != 32 || got != "<none> GET 404 no_route "+fmt.Sprint(len("Not Found: no route\n"))+" "+rid {
		t.Fatalf("observer %q, header %q", got, rid)
	}
	resp, body := get("/bad/x")
	rid = resp.Header.Get("X-Request-Id")
	if got := o.wait(t); !strings.HasPrefix(got, "bad GET 502 worker_failed") {
		t.Fatalf("observer %q", got)
	}
	if strings.Contains(body, "secret") || strings.Contains(body, "ipc:") || !strings.Contains(body, rid) {
		t.Fatalf("error body %q: must name the request id %s and no address", body, rid)
	}

	// A request fasthttp cannot read (headers over the limit) is observed
	// too, without a route.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: %s\r\n\r\n", strings.Repeat("b", 10000))
	if got := o.wait(t); !strings.HasPrefix(got, "<none> GET 431 header_too_large") {
		t.Fatalf("observer %q", got)
	}
}
