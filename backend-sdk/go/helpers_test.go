package worker

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol/req"

	"github.com/nanogate/nanogate/session"
)

// ioTimeout bounds every socket operation in the tests: a lost reply fails
// the test instead of hanging it.
const ioTimeout = 10 * time.Second

// endpoint makes a fresh URL of one transport.
type endpoint struct {
	name string
	url  func(t testing.TB) string
}

var inprocSeq atomic.Int64

var (
	inprocEndpoint = endpoint{"inproc", func(t testing.TB) string {
		return fmt.Sprintf("inproc://worker-test-%d", inprocSeq.Add(1))
	}}
	ipcEndpoint = endpoint{"ipc", func(t testing.TB) string {
		return "ipc://" + filepath.Join(t.TempDir(), "w.sock")
	}}
	tcpEndpoint = endpoint{"tcp", func(t testing.TB) string {
		return "tcp://127.0.0.1:" + freePort(t)
	}}
	wsEndpoint = endpoint{"ws", func(t testing.TB) string {
		return "ws://127.0.0.1:" + freePort(t) + "/worker"
	}}
)

// endpoints are the transports every socket test runs over.
var endpoints = []endpoint{inprocEndpoint, ipcEndpoint, tcpEndpoint}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// logBuffer collects log output safely across goroutines: pipe events are
// logged after a test has ended, when t.Log would panic.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := new(logBuffer)
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// startServer serves s (Handler set by the caller) on a socket bound to
// url, and stops it with Close when the test ends, checking that Serve
// returned nil.
func startServer(t *testing.T, s *Server, url string) {
	t.Helper()
	if s.Logger == nil {
		s.Logger, _ = newLogger()
	}
	if err := s.Listen(url); err != nil {
		t.Fatalf("Listen(%s): %v", url, err)
	}
	serveInBackground(t, s)
}

// serveInBackground runs Serve and returns a function that waits for its
// result (at most ioTimeout), once serving has begun. When the test ends the server is closed and
// Serve must have returned nil.
func serveInBackground(t *testing.T, s *Server) (wait func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	var once sync.Once
	var err error
	wait = func() error {
		once.Do(func() {
			select {
			case err = <-errc:
			case <-time.After(ioTimeout):
				err = fmt.Errorf("Serve did not return")
			}
		})
		return err
	}
	// Serve after Close returns ErrServerClosed: do not let the cleanup
	// race the goroutine's start.
	waitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.serving
	})
	t.Cleanup(func() {
		_ = s.Close()
		if err := wait(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return wait
}

// newClient opens a REQ socket configured as the gateway's: no resending,
// a receive limit large enough for the tests, deadlines.
func newClient(t testing.TB) mangos.Socket {
	t.Helper()
	sock, err := req.NewSocket()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sock.Close() })
	for name, v := range map[string]any{
		mangos.OptionRetryTime:    time.Duration(0),
		mangos.OptionMaxRecvSize:  16 << 20,
		mangos.OptionRecvDeadline: ioTimeout,
		mangos.OptionSendDeadline: ioTimeout,
	} {
		if err := sock.SetOption(name, v); err != nil {
			t.Fatalf("SetOption(%s): %v", name, err)
		}
	}
	return sock
}

func dialClient(t *testing.T, url string) mangos.Socket {
	t.Helper()
	sock := newClient(t)
	if err := sock.Dial(url); err != nil {
		t.Fatalf("Dial(%s): %v", url, err)
	}
	return sock
}

// exchange sends one request message on its own REQ context, as the
// gateway does, and returns the raw reply.
func exchange(sock mangos.Socket, msg []byte) ([]byte, error) {
	c, err := sock.OpenContext()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetOption(mangos.OptionRecvDeadline, ioTimeout); err != nil {
		return nil, err
	}
	if err := c.Send(msg); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	reply, err := c.Recv()
	if err != nil {
		return nil, fmt.Errorf("recv: %w", err)
	}
	return reply, nil
}

// reply is a parsed reply, checked with the gateway's own parser.
type reply struct {
	raw []byte
	session.Response
}

// header returns every value of name, in order.
func (r *reply) header(name string) []string {
	var vs []string
	for h := r.Header; len(h) > 0; {
		n, v, rest, err := session.NextHeader(h)
		if err != nil {
			return append(vs, "<bad header: "+err.Error()+">")
		}
		if strings.EqualFold(string(n), name) {
			vs = append(vs, string(v))
		}
		h = rest
	}
	return vs
}

func roundTrip(t *testing.T, sock mangos.Socket, msg []byte) *reply {
	t.Helper()
	raw, err := exchange(sock, msg)
	if err != nil {
		t.Fatal(err)
	}
	return parseReply(t, raw, bytes.HasPrefix(msg, []byte("HEAD ")))
}

func parseReply(t *testing.T, raw []byte, head bool) *reply {
	t.Helper()
	r := &reply{raw: bytes.Clone(raw)}
	if err := r.Parse(raw, head); err != nil {
		t.Fatalf("the gateway's parser refuses the reply: %v\n%q", err, r.raw)
	}
	return r
}

// request encodes a request exactly as the gateway does.
func request(method, uri, header string, body []byte) []byte {
	return session.AppendRequest(nil, &session.Request{
		Method:    []byte(method),
		URI:       []byte(uri),
		Proto:     []byte("HTTP/1.1"),
		Header:    []byte("Host: example.test\r\n" + header),
		Body:      body,
		Framed:    len(body) > 0,
		Forward:   true,
		ClientIP:  []byte("203.0.113.7"),
		RequestID: []byte("req-42"),
		Session:   session.ID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef},
	})
}

// testMux is the application the socket tests talk to.
func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/info", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "method=%s uri=%s host=%s remote=%s proto=%s len=%d session=%s id=%s ua=%s",
			r.Method, r.RequestURI, r.Host, r.RemoteAddr, r.Proto, r.ContentLength,
			r.Header.Get("X-Nanogate-Session"), r.Header.Get("X-Request-Id"), r.UserAgent())
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		var b bytes.Buffer
		if _, err := b.ReadFrom(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("X-Content-Length", fmt.Sprint(r.ContentLength))
		_, _ = w.Write(b.Bytes())
	})
	mux.HandleFunc("/cookies", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1", Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: "c", Value: "3", Path: "/", HttpOnly: true})
		_, _ = w.Write([]byte("cookies"))
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		var code int
		_, _ = fmt.Sscan(r.PathValue("code"), &code)
		w.Header().Set("X-Status", r.PathValue("code"))
		if code == http.StatusMovedPermanently {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, "status %d", code)
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "f.txt", time.Time{}, strings.NewReader("twelve bytes"))
	})
	return mux
}
