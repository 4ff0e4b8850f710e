//go:build !nozmq

package main

// End-to-end tests of the ZeroMQ raw ROUTER front end (server.frontend =
// "zmq", frontend/zmqstream): the client-visible cases of e2e_test.go and
// peers_test.go run through it unchanged, and the cases below run through
// both front ends.

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/nanogate/nanogate/protocol/frames"
)

var frontends = []struct {
	name string
	args []string
}{
	{"fasthttp", nil},
	{"zmq", []string{"--frontend", "zmq"}},
}

// TestZMQFrontend runs the client-visible suite through the ZMQ_STREAM
// front end: every case is the fasthttp front end's own test body.
func TestZMQFrontend(t *testing.T) {
	t.Parallel()
	zmq := []string{"--frontend", "zmq"}
	t.Run("http", func(t *testing.T) {
		t.Parallel()
		ep := ipcURL(t, "zmqfront")
		// As TestHTTP's, with the front end chosen in the file.
		cfg := writeFile(t, "nanogate.toml", fmt.Sprintf(`
[server]
frontend = "zmq"
[[route]]
path = "/"
timeout = "10s"
contexts = 256
endpoints = [%q]
`, ep))
		g, _ := startStack(t, ep, []string{"--concurrency", "256"}, "--config", cfg)
		runHTTPCases(t, g, newClient(t))
	})
	t.Run("limits", func(t *testing.T) {
		t.Parallel()
		ep := ipcURL(t, "zmqlimits")
		countFile := filepath.Join(t.TempDir(), "count")
		g, _ := startStack(t, ep, []string{"--count-file", countFile},
			append([]string{"--route", "/=" + ep, "--timeout", "5s"}, zmq...)...)
		runLimits(t, g, countFile)
	})
	t.Run("no-worker-503", func(t *testing.T) { t.Parallel(); runNoWorker503(t, zmq...) })
	t.Run("silent-worker-504", func(t *testing.T) { t.Parallel(); runSilentWorker504(t, zmq...) })
	t.Run("graceful-shutdown", func(t *testing.T) { t.Parallel(); runGracefulShutdown(t, zmq...) })
	// Routes of format frames: the [server] table after the route's keys.
	const frames = "\n[server]\nfrontend = \"zmq\"\n"
	t.Run("frames-websocket", func(t *testing.T) { t.Parallel(); runFramesWebSocket(t, frames) })
	t.Run("frames-stream", func(t *testing.T) { t.Parallel(); runFramesStream(t, frames) })
	t.Run("tls", func(t *testing.T) { t.Parallel(); runTLS(t, "frontend = \"zmq\"\n") })
	// libzmq's own state costs about 17 KiB more per connection than the
	// fasthttp front end's (docs/zmq-frontend.md): 500 connections, 8 MiB.
	t.Run("stalled-uploads", func(t *testing.T) { t.Parallel(); runStalledUploads(t, "frontend = \"zmq\"\n", 108) })
	// libzmq's per-peer buffers are C memory, returned to the system as
	// glibc's malloc sees fit, not by the gateway: more may stay.
	t.Run("slow-readers", func(t *testing.T) { t.Parallel(); runSlowReaders(t, "frontend = \"zmq\"\n", 64) })
}

// TestFrontendsClientGone: clients that leave in the middle of their
// request are seen and their connections cleaned up (the open-connections
// gauge returns to zero), the gateway's own 404 is the same, and the
// gateway serves on; through both front ends.
func TestFrontendsClientGone(t *testing.T) {
	t.Parallel()
	for _, fe := range frontends {
		t.Run(fe.name, func(t *testing.T) {
			t.Parallel()
			ep := ipcURL(t, "gone-"+fe.name)
			admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			g, _ := startStack(t, ep, nil, append([]string{"--route", "/sleep=" + ep, "--route", "/name=" + ep,
				"--timeout", "10s", "--admin", admin}, fe.args...)...)
			c := newClient(t)
			if resp, body := get(t, c, g.url+"/nothing"); resp.StatusCode != 404 {
				t.Fatalf("GET /nothing: status %d body %q, want the gateway's 404", resp.StatusCode, body)
			}
			c.CloseIdleConnections()
			const n = 50
			mark := g.out.len()
			for i := range n {
				conn := dialRaw(t, g.addr)
				conn.write(t, fmt.Sprintf("GET /sleep?ms=300&i=%d HTTP/1.1\r\nHost: gw\r\n\r\n", i))
				conn.Close()
			}
			// Every request was served (its access line), each to a client
			// that had left...
			served := map[string]bool{}
			g.waitFrom(t, mark, "the access lines of the requests whose clients left", 10*time.Second, func(line string) bool {
				if m := sleepAccess.FindStringSubmatch(line); m != nil {
					served[m[1]] = true
				}
				return len(served) == n
			})
			// ...and no connection stays open.
			if !pollUntil(10*time.Second, func() bool { return openConns(t, admin) == 0 }) {
				t.Fatalf("%d connections still open 10s after their %d clients left", openConns(t, admin), n)
			}
			if resp, body := get(t, c, g.url+"/name"); resp.StatusCode != 200 {
				t.Fatalf("GET /name after: status %d body %q", resp.StatusCode, body)
			}
		})
	}
}

// TestFrontendsCloseFrame: a worker's close frame ends the client's
// connection once the response is out, through both front ends
// (frontend.AfterResponseCloser).
func TestFrontendsCloseFrame(t *testing.T) {
	t.Parallel()
	for _, fe := range []struct{ name, extra string }{{"fasthttp", ""}, {"zmq", "\n[server]\nfrontend = \"zmq\"\n"}} {
		t.Run(fe.name, func(t *testing.T) {
			t.Parallel()
			g, w, _ := framesStack(t, fe.extra)
			_, br := rawGet(t, g, "/bye")
			req := w.next(t, frames.Request)
			w.send(t, req, frames.Headers, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
			w.send(t, req, frames.Body, "bye")
			w.send(t, req, frames.Close, "")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if body, err := io.ReadAll(resp.Body); err != nil || string(body) != "bye" {
				t.Fatalf("body %q, %v", body, err)
			}
			if b, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the close frame's response: read %q, %v; want the connection closed", b, err)
			}
		})
	}
}

var sleepAccess = regexp.MustCompile(`msg=access .*uri="?/sleep\?ms=300&i=(\d+)`)

var openConnsLine = regexp.MustCompile(`(?m)^nanogate_open_connections (\d+)$`)

// openConns reads the gateway's open-connections gauge from its admin
// listener.
func openConns(t *testing.T, admin string) int {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := openConnsLine.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no nanogate_open_connections in /metrics:\n%.500s", b)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
