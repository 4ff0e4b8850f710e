// Command test-worker is the worker that nanogate's end-to-end tests
// (cmd/nanogate/e2e_test.go) run as a real process. It is not an example to
// copy: it exists to make the gateway's behaviour observable.
//
//	test-worker --bind ipc:///tmp/a.sock [--bind tcp://127.0.0.1:5555] [--mode sdk] [--name a] [--count-file F]
//	test-worker --dial tcp://127.0.0.1:5555 --mode garbage
//
// Modes:
//
//	sdk      (default) the worker SDK serving the handlers below
//	fast     the worker SDK's FastHandler: /echo and /status/{code} as
//	         below (the echo lists header fields as the message has them),
//	         anything else "NAME PATH"
//	silent   a raw REP socket that receives and never answers (504 tests)
//	garbage  a raw REP socket that answers "not http at all" (502 tests)
//
// SDK handlers:
//
//	/echo            method, headers seen and the body, byte-exact
//	/status/{code}   that status, X-Status: code, a body unless 204 or 304
//	/cookies         three Set-Cookie headers, two with the same name
//	/count           appends a line to --count-file, so executions can be
//	                 counted after the process is killed
//	/sleep?ms=N      sleeps N ms, then replies "slept N ms"
//	/name            the --name flag
//	/slow-count?ms=N counts as /count does, then sleeps N ms
//	/server          sets its own Server header
//	/ (anything else) "NAME PATH" and X-Worker: NAME, for routing tests
//
// It prints "ready" on stdout once every endpoint is bound or dialled.
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	worker "github.com/nanogate/nanogate/backend-sdk/go"
	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol/rep"
	_ "go.nanomsg.org/mangos/v3/transport/all"
)

// maxRecv is the receive limit of every socket: mangos' 1 MiB default drops
// the tests' 5 MiB uploads silently.
const maxRecv = 64 << 20

type urls []string

func (u *urls) String() string     { return strings.Join(*u, ",") }
func (u *urls) Set(v string) error { *u = append(*u, v); return nil }

func main() {
	var binds urls
	flag.Var(&binds, "bind", "endpoint `URL` to bind, repeatable")
	dial := flag.String("dial", "", "endpoint `URL` of a gateway that listens")
	mode := flag.String("mode", "sdk", "sdk, fast, silent or garbage")
	name := flag.String("name", "", "reply of /name")
	countFile := flag.String("count-file", "", "`file` that /count and /slow-count append a line to")
	concurrency := flag.Int("concurrency", 0, "requests served at once in sdk mode (zero: the SDK's default)")
	tlsCert := flag.String("tls-cert", "", "PEM certificate `file` for tls+tcp:// binds (sdk mode)")
	tlsKey := flag.String("tls-key", "", "PEM key `file` for tls+tcp:// binds (sdk mode)")
	flag.Parse()
	if len(binds) == 0 && *dial == "" {
		fail(errors.New("give --bind URL or --dial URL"))
	}

	var err error
	switch *mode {
	case "sdk":
		s := &worker.Server{Handler: newMux(*name, *countFile)}
		if *tlsCert != "" {
			cert, cerr := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
			if cerr != nil {
				fail(cerr)
			}
			s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		}
		err = serveSDK(binds, *dial, *concurrency, s)
	case "fast":
		err = serveSDK(binds, *dial, *concurrency, &worker.Server{Fast: fastHandler(*name)})
	case "silent":
		err = serveRaw(binds, *dial, nil)
	case "garbage":
		err = serveRaw(binds, *dial, []byte("not http at all"))
	default:
		err = fmt.Errorf("unknown --mode %q (want sdk, fast, silent, garbage)", *mode)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "test-worker:", err)
	os.Exit(1)
}

func ready() { fmt.Println("ready") } // stdout is unbuffered in Go

func serveSDK(binds []string, dial string, concurrency int, s *worker.Server) error {
	s.Concurrency = concurrency
	s.MaxRecvSize = maxRecv
	s.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	for _, u := range binds {
		if err := s.Listen(u); err != nil {
			return err
		}
	}
	if dial != "" {
		if err := s.Dial(dial); err != nil {
			return err
		}
	}
	ready()
	// SIGTERM drains, as a worker in production does: rolling restarts
	// through the gateway lose nothing (cmd/nanogate's TestRollingRestart).
	return s.ServeUntilSignal(worker.DrainTimeout)
}

// serveRaw answers every request with reply, or never when reply is nil.
// One goroutine on the raw socket is enough: REP drops the pending request
// of a context that receives again without replying.
func serveRaw(binds []string, dial string, reply []byte) error {
	sock, err := rep.NewSocket()
	if err != nil {
		return err
	}
	if err := sock.SetOption(mangos.OptionMaxRecvSize, maxRecv); err != nil {
		return err
	}
	for _, u := range binds {
		if err := sock.Listen(u); err != nil {
			return fmt.Errorf("listen %s: %w", u, err)
		}
	}
	if dial != "" {
		if err := sock.DialOptions(dial, map[string]any{mangos.OptionDialAsynch: true}); err != nil {
			return fmt.Errorf("dial %s: %w", dial, err)
		}
	}
	ready()
	for {
		if _, err := sock.Recv(); err != nil {
			return err
		}
		if reply != nil {
			if err := sock.Send(reply); err != nil {
				return err
			}
		}
	}
}

func newMux(name, countFile string) *http.ServeMux {
	c := &counter{path: countFile, name: name}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/status/{code}", status)
	mux.HandleFunc("/cookies", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1; Path=/")
		w.Header().Add("Set-Cookie", "b=2; Path=/; HttpOnly")
		w.Header().Add("Set-Cookie", "a=3; Path=/sub") // same name, another path: a cookie of its own
		io.WriteString(w, "three cookies\n")
	})
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		if err := c.add(r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "counted\n")
	})
	mux.HandleFunc("/slow-count", func(w http.ResponseWriter, r *http.Request) {
		if err := c.add(r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sleep(r)
		io.WriteString(w, "counted slowly\n")
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "slept %d ms\n", sleep(r))
	})
	mux.HandleFunc("/name", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, name)
	})
	mux.HandleFunc("/server", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "test-worker/1.0")
		io.WriteString(w, "server header set\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Worker", name)
		fmt.Fprintf(w, "%s %s", name, r.URL.Path)
	})
	return mux
}

// echo answers the body byte-exact and reports in headers what the worker
// saw of the request.
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream") // no sniffing
	h.Set("X-Got-Method", r.Method)
	h.Set("X-Got-Uri", r.RequestURI)
	h.Set("X-Got-Session", r.Header.Get("X-Nanogate-Session"))
	h.Set("X-Got-Request-Id", r.Header.Get("X-Request-Id"))
	h.Set("X-Got-Forwarded-For", r.Header.Get("X-Forwarded-For"))
	h.Set("X-Got-Forwarded-Proto", r.Header.Get("X-Forwarded-Proto"))
	h.Set("X-Got-Content-Length", r.Header.Get("Content-Length"))
	h.Set("X-Got-Transfer-Encoding", strings.Join(r.TransferEncoding, ","))
	h.Set("X-Got-Body-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func status(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.PathValue("code"))
	if err != nil || code < 200 || code > 599 {
		http.Error(w, "bad code", http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Status", strconv.Itoa(code))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if code >= 300 && code < 400 {
		w.Header().Set("Location", "/moved/here")
	}
	w.WriteHeader(code)
	if code != http.StatusNoContent && code != http.StatusNotModified {
		fmt.Fprintf(w, "status %d body\n", code)
	}
}

// sleep waits for the ms query parameter's milliseconds, or until the
// request is cancelled, and returns ms.
func sleep(r *http.Request) int {
	ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
	case <-r.Context().Done():
	}
	return ms
}

// counter appends one line per execution to a file. Each append is one
// write(2) on an O_APPEND file, which the kernel keeps when the process is
// killed right after it.
// A line is "NAME METHOD REQUEST-ID", so that a test knows which worker ran
// the request.
type counter struct {
	mu   sync.Mutex
	path string
	name string
}

func (c *counter) add(r *http.Request) error {
	if c.path == "" {
		return errors.New("no --count-file")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s %s %s\n", c.name, r.Method, r.Header.Get("X-Request-Id"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// fastHandler is the fast mode's handler.
func fastHandler(name string) worker.FastHandlerFunc {
	return func(w *worker.FastResponse, r *worker.FastRequest) {
		path := string(r.Path())
		switch {
		case path == "/echo":
			w.AddHeader("Content-Type", "text/plain")
			fmt.Fprintf(w, "%s %s?%s\n", r.Method(), r.Path(), r.Query())
			r.VisitHeaders(func(name, value []byte) { fmt.Fprintf(w, "%s: %s\n", name, value) })
			w.WriteString("\n")
			w.Write(r.Body())
		case strings.HasPrefix(path, "/status/"):
			code, err := strconv.Atoi(strings.TrimPrefix(path, "/status/"))
			if err != nil {
				code = http.StatusBadRequest
			}
			w.AddHeader("X-Status", strconv.Itoa(code))
			w.SetStatus(code)
			fmt.Fprintf(w, "status %d\n", code)
		default:
			w.AddHeader("X-Worker", name)
			fmt.Fprintf(w, "%s %s", name, path)
		}
	}
}
