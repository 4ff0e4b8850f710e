package main

import (
	_ "embed"
	"fmt"
	"net/http"
	"time"

	worker "github.com/nanogate/nanogate/backend-sdk/go"
)

// indexHTML is the page at /: an SSE clock, a WebSocket echo box, and
// the command that pushes to this page's session. Plain HTML and script,
// no build step. For headless tests it keeps #sse-count, #ws-session and
// #ws-log current, and the title as "sse N ws ID".
//
//go:embed index.html
var indexHTML []byte

// sseInterval is the clock's tick.
const sseInterval = 200 * time.Millisecond

func addStreaming(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(indexHTML)
	})
	mux.HandleFunc("GET /api/sse", sse)
	mux.HandleFunc("/api/ws", echo)
}

// sse sends the time as a server-sent event every sseInterval, each
// flushed so that it reaches the browser at once, until the client leaves
// (the gateway's end cancels the request's context).
func sse(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flush := http.NewResponseController(w).Flush
	t := time.NewTicker(sseInterval)
	defer t.Stop()
	for {
		if _, err := fmt.Fprintf(w, "data: %s\n\n", time.Now().Format(time.RFC3339)); err != nil {
			return
		}
		if err := flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

// echo tells the client its session id (what `nanogate push --session`
// takes), then sends every message back with its type.
func echo(w http.ResponseWriter, r *http.Request) {
	ws, err := worker.AcceptWebSocket(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := ws.WriteMessage(worker.TextMessage, []byte("session "+ws.SessionID())); err != nil {
		return
	}
	for {
		t, p, err := ws.ReadMessage()
		if err != nil {
			return // the client closed (*worker.CloseError) or left (io.EOF)
		}
		if err := ws.WriteMessage(t, p); err != nil {
			return
		}
	}
}
