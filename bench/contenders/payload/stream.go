package payload

import (
	"io"
	"net/http"
	"strconv"
)

// What the ws, stream and idle-ws scenarios exchange (bench/README.md).
//
//	GET  /ws         WebSocket: every message echoed with its type (text or binary)
//	GET  /stream100  200, StreamSize bytes, written in StreamPieceSize pieces, each flushed (chunked)
//	POST /upload     200, the request body's length in decimal; the body is read as a stream and counted
const (
	// WSPath is the WebSocket echo path.
	WSPath = "/ws"
	// WSMessageSize is the size of the load's text message.
	WSMessageSize = 64
	// StreamPath is the streamed download.
	StreamPath = "/stream100"
	// StreamSize is the streamed download's length: 100 MiB.
	StreamSize = 100 << 20
	// StreamPieceSize is what the handler writes and flushes at a time.
	StreamPieceSize = 64 << 10
	// UploadPath counts an upload.
	UploadPath = "/upload"
	// UploadSize is the upload the stream scenario sends: 1 GiB.
	UploadSize = 1 << 30
)

// WSMessage returns a fresh copy of the ws scenario's text message.
func WSMessage() []byte { return pattern(WSMessageSize, 5) }

// StreamPiece returns the piece the download repeats, StreamSize /
// StreamPieceSize times; uploads are made of it too.
func StreamPiece() []byte { return pattern(StreamPieceSize, 23) }

// StreamMux returns the net/http handler of /stream100 and /upload, shared
// by the direct net/http contender and the nanogate SDK stream worker, so
// that both run the same handler code.
func StreamMux() *http.ServeMux {
	piece := StreamPiece()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+StreamPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		flush := http.NewResponseController(w).Flush
		for range StreamSize / StreamPieceSize {
			if _, err := w.Write(piece); err != nil {
				return
			}
			if err := flush(); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("POST "+UploadPath, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, StreamPieceSize)
		n, err := io.CopyBuffer(discard{}, r.Body, buf)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	return mux
}

// discard is io.Discard without its ReaderFrom, so that io.CopyBuffer
// reads through the handler's own 64 KiB buffer, as a handler that looks
// at the bytes would.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
