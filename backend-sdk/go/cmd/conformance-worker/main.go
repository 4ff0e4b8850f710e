// Command conformance-worker serves the app of nanogate's SDK conformance
// suite (cmd/nanogate/conformance_test.go) with the Go worker SDK: an
// ordinary net/http mux behind worker.Server.
//
//	conformance-worker --bind ipc:///tmp/conf.sock   # or --dial tcp://gateway:5555
//
// It prints "ready" once the endpoint is bound (or dialled), serves 256
// requests at once, and drains on SIGTERM.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	worker "github.com/nanogate/nanogate/backend-sdk/go"
)

func main() {
	bind := flag.String("bind", "", "endpoint `URL` to bind (the gateway dials it)")
	dial := flag.String("dial", "", "endpoint `URL` of a gateway that listens")
	flag.Parse()
	if (*bind == "") == (*dial == "") {
		fmt.Fprintln(os.Stderr, "conformance-worker: give one of --bind URL or --dial URL")
		os.Exit(2)
	}
	s := &worker.Server{
		Handler:     newApp(),
		Concurrency: 256, // the suite sends 200 concurrent /sleep requests
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	var err error
	if *bind != "" {
		err = s.Listen(*bind)
	} else {
		err = s.Dial(*dial)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance-worker:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	if err := s.ServeUntilSignal(worker.DrainTimeout); err != nil {
		fmt.Fprintln(os.Stderr, "conformance-worker:", err)
		os.Exit(1)
	}
}

func newApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		text(w, http.StatusOK, "hello\n")
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("X-Body-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	mux.HandleFunc("/cookies", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1; Path=/")
		w.Header().Add("Set-Cookie", "b=2; Path=/")
		text(w, http.StatusOK, "cookies\n")
	})
	statuses := map[string]struct{ location, body string }{
		"201": {"/created", "created\n"},
		"204": {"", ""},
		"301": {"/hello", "moved\n"},
		"404": {"", "not found\n"},
		"500": {"", "error\n"},
	}
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code := r.PathValue("code")
		st, ok := statuses[code]
		if !ok {
			text(w, http.StatusNotFound, "not found\n")
			return
		}
		n, _ := strconv.Atoi(code)
		if st.location != "" {
			w.Header().Set("Location", st.location)
		}
		w.Header().Set("X-Status", code)
		if n == http.StatusNoContent {
			w.WriteHeader(n)
			return
		}
		text(w, n, st.body)
	})
	mux.HandleFunc("/raise", func(w http.ResponseWriter, r *http.Request) {
		panic("raise: the conformance suite's failing handler") // the SDK answers 500 and logs the request id
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr) // "ip:0", from X-Forwarded-For's last entry
		if err != nil {
			host = r.RemoteAddr
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"method":      r.Method,
			"path":        r.URL.Path,
			"query":       r.URL.RawQuery,
			"remote_addr": host,
			"session_id":  r.Header.Get("X-Nanogate-Session"),
			"request_id":  r.Header.Get("X-Request-Id"),
		})
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done(): // the server closed
		}
		text(w, http.StatusOK, "slept\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		text(w, http.StatusNotFound, "not found\n")
	})
	return mux
}

func text(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	io.WriteString(w, body)
}
