// Command demo-worker is the worker `make run` starts: a plain
// net/http.ServeMux served over nanomsg with the worker SDK.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	worker "github.com/nanogate/nanogate/backend-sdk/go"
)

func main() {
	bind := flag.String("bind", "ipc:///tmp/nanogate-demo.sock", "endpoint `URL` to bind; the gateway dials it")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from worker %d\n", os.Getpid())
	})
	// /api/echo shows what a worker receives: the session id is stable across
	// the keep-alive requests of one client connection.
	mux.HandleFunc("/api/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"method":  r.Method,
			"uri":     r.RequestURI,
			"session": r.Header.Get("X-Nanogate-Session"),
			"request": r.Header.Get("X-Request-Id"),
			"client":  r.RemoteAddr,
			"bytes":   len(body),
		})
	})
	log.Printf("demo worker on %s", *bind)
	log.Fatal(worker.ListenAndServe(*bind, mux))
}
