package worker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nanogate/nanogate/internal/sp"
	"github.com/nanogate/nanogate/protocol/frames"
)

// testSID is the session of the golden frames in protocol/frames/testdata.
const testSID = "0123456789abcdeffedcba9876543210"

var testSIDBytes, _ = parseSessionID(testSID)

// gotFrame is a frame the fake gateway received, with its exact bytes.
type gotFrame struct {
	frames.Frame
	raw []byte
}

func (f gotFrame) String() string {
	return fmt.Sprintf("%s %d (%d bytes)", f.Type, f.Stream, len(f.Body))
}

// fakeGateway is the gateway's side of format frames, made of the sockets
// the gateway uses: a PUSH that dials the worker's PULL (endpoint mode
// "dial"), and the inbound PULL that the worker's frames reach.
type fakeGateway struct {
	t       *testing.T
	push    *sp.Push
	inbound string
	got     chan gotFrame
}

// newFakeGateway starts s on a fresh ipc address and connects a fake
// gateway to it; both are closed when the test ends.
func newFakeGateway(t *testing.T, s *StreamServer) *fakeGateway {
	t.Helper()
	dir := t.TempDir()
	g := &fakeGateway{t: t, inbound: "ipc://" + filepath.Join(dir, "inbound.sock"), got: make(chan gotFrame, 4096)}
	quiet, _ := newLogger()
	pull, err := sp.NewPull(sp.LinkConfig{URL: g.inbound, Listen: true, Logger: quiet}, sp.Borrowing(g.deliver))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pull.Close() })
	if s.Logger == nil {
		s.Logger, _ = newLogger()
	}
	workerURL := "ipc://" + filepath.Join(dir, "worker.sock")
	if err := s.Listen(workerURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if g.push, err = sp.NewPush(sp.LinkConfig{URL: workerURL, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.push.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if _, err := g.push.Wait(ctx); err != nil {
		t.Fatalf("fake gateway did not reach the worker: %v", err)
	}
	return g
}

// deliver runs on the inbound reader; a full channel pushes back on the
// worker, as a gateway's slow client would.
func (g *fakeGateway) deliver(msg []byte) {
	raw := bytes.Clone(msg)
	f, err := frames.Parse(raw)
	if err != nil {
		f = frames.Frame{Body: raw} // Type 0: the test reports it
	}
	g.got <- gotFrame{f, raw}
}

// sendRaw sends one message to the worker.
func (g *fakeGateway) sendRaw(msg []byte) {
	g.t.Helper()
	pe := g.push.Pick()
	if pe == nil {
		g.t.Fatal("fake gateway: no worker connection")
	}
	if err := pe.Send(nil, msg); err != nil {
		g.t.Fatalf("fake gateway: send: %v", err)
	}
}

// send sends one frame of the test session to the worker.
func (g *fakeGateway) send(t frames.Type, stream uint32, body []byte) {
	g.t.Helper()
	g.sendRaw(frames.Append(nil, testSIDBytes, t, stream, body))
}

// request sends a request frame: the request line, extra header lines
// (each ending in CRLF), the gateway's forwarded headers and its inbound
// address.
func (g *fakeGateway) request(stream uint32, method, target, extra string) {
	g.t.Helper()
	g.send(frames.Request, stream, []byte(method+" "+target+" HTTP/1.1\r\nHost: example.test\r\n"+extra+
		"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: http\r\n"+
		fmt.Sprintf("X-Request-Id: r-%d\r\n", stream)+
		"X-Nanogate-Session: "+testSID+"\r\n"+
		"X-Nanogate-Inbound: "+g.inbound+"\r\n\r\n"))
}

// next returns the next frame the worker sent, failing the test after
// ioTimeout.
func (g *fakeGateway) next() gotFrame {
	g.t.Helper()
	select {
	case f := <-g.got:
		if f.Type == 0 {
			g.t.Fatalf("worker sent a malformed frame: %q", f.raw)
		}
		return f
	case <-time.After(ioTimeout):
		g.t.Fatal("no frame from the worker in time")
		return gotFrame{}
	}
}

// expect returns the next frame, which must be of type t on stream.
func (g *fakeGateway) expect(t frames.Type, stream uint32) gotFrame {
	g.t.Helper()
	f := g.next()
	if f.Type != t || f.Stream != stream || f.SID != testSIDBytes {
		g.t.Fatalf("got frame %v (%.80q), want %s %d", f, f.Body, t, stream)
	}
	return f
}

// expectResponse reads a headers frame and parses its head; body is what
// followed the head in the same frame.
func (g *fakeGateway) expectResponse(stream uint32) (resp *http.Response, body []byte) {
	g.t.Helper()
	return parseHead(g.t, g.expect(frames.Headers, stream).Body)
}

func parseHead(t *testing.T, b []byte) (*http.Response, []byte) {
	t.Helper()
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("headers frame without an empty line: %q", b)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b[:i+4])), nil)
	if err != nil {
		t.Fatalf("bad response head %q: %v", b[:i+4], err)
	}
	return resp, b[i+4:]
}

// golden reads a golden frame of protocol/frames/testdata.
func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "protocol", "frames", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withInbound adds the gateway's X-Nanogate-Inbound to a golden request
// frame, which has none.
func withInbound(t *testing.T, frame []byte, inbound string) []byte {
	t.Helper()
	s := string(frame)
	if !strings.HasSuffix(s, "\r\n\r\n") {
		t.Fatalf("golden request frame does not end with its head: %q", s)
	}
	return []byte(s[:len(s)-2] + "X-Nanogate-Inbound: " + inbound + "\r\n\r\n")
}

// recv waits for a value from c, failing the test after ioTimeout.
func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(ioTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}
