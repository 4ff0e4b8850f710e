package worker

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/nanogate/nanogate/protocol/frames"
)

// writeBuffer is what Write gathers before it sends: a reply that fits is
// sent whole with its Content-Length when the handler returns; a longer one
// is streamed as it is written.
const writeBuffer = 32 << 10

// streamWriter is the http.ResponseWriter of a stream. Nothing is sent
// until Flush, the handler's return, or more than writeBuffer bytes of
// body. Then a headers frame goes first: with a Content-Length when the
// handler set one, or when the handler has returned and the whole body is
// known; without one otherwise, and the gateway sends the body chunked as
// it arrives. Like net/http's, it is not safe for concurrent use.
type streamWriter struct {
	st       *stream
	header   http.Header
	status   int  // 0 until the header is written
	isHead   bool // HEAD: count the body, keep only what sniffing needs
	head     []byte
	info     headerInfo
	keys     []string
	buf      []byte // body not sent yet
	written  int64  // body bytes the handler wrote
	sent     bool   // the headers frame is sent
	bodyType frames.Type
	ws       *WebSocket // set by AcceptWebSocket: the stream is the WebSocket's
	err      error      // the first send failure, returned by every later write
}

// Header implements http.ResponseWriter.
func (w *streamWriter) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

// WriteHeader implements http.ResponseWriter, with the rules of the
// buffered Server: the first final status wins, 1xx codes are dropped (a
// frames reply has one head), an invalid code panics as net/http's does.
func (w *streamWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.status != 0 || code < 200 || w.ws != nil {
		return
	}
	w.status = code
	w.head, w.keys, w.info = appendHeader(w.head[:0], w.header, w.keys)
}

// Write implements http.ResponseWriter. It returns ErrStreamEnded once
// the gateway has ended the stream, and waits while the stream's window is
// used up (docs/PROTOCOL.md, flow control).
func (w *streamWriter) Write(p []byte) (int, error) {
	switch {
	case w.ws != nil:
		return 0, http.ErrHijacked
	case w.err != nil:
		return 0, w.err
	}
	if err := w.st.err(); err != nil {
		// Even a write that would only be buffered: a handler that loops
		// on Write learns at once that nobody is listening.
		return 0, w.fail(err)
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if cl := w.info.contentLength; cl >= 0 && w.written+int64(len(p)) > cl {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.isHead {
		if room := sniffLen - len(w.buf); room > 0 {
			w.buf = append(w.buf, p[:min(room, len(p))]...)
		}
		return len(p), nil
	}
	if len(w.buf)+len(p) <= writeBuffer {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	sniff := w.buf
	if len(sniff) == 0 {
		sniff = p
	}
	if err := w.sendHead(sniff); err != nil {
		return 0, err
	}
	if err := w.sendBuffered(); err != nil {
		return 0, err
	}
	if err := w.st.sendBody(w.bodyType, p); err != nil {
		return 0, w.fail(err)
	}
	return len(p), nil
}

// Flush implements http.Flusher: FlushError without its error.
func (w *streamWriter) Flush() { _ = w.FlushError() }

// FlushError sends the headers frame if it has not gone yet, then the body
// written so far. http.ResponseController.Flush calls it.
func (w *streamWriter) FlushError() error {
	switch {
	case w.ws != nil:
		return nil
	case w.err != nil:
		return w.err
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.sendHead(w.buf); err != nil {
		return err
	}
	if w.isHead {
		w.buf = w.buf[:0] // only kept for sniffing
		return nil
	}
	return w.sendBuffered()
}

// EnableFullDuplex lets http.ResponseController.EnableFullDuplex succeed:
// a stream reads its body and writes its reply independently anyway.
func (w *streamWriter) EnableFullDuplex() error { return nil }

// sendHead sends the headers frame, once, for a reply streamed from now
// on: with the handler's Content-Length if it set one (the body then goes
// in body frames), else without (chunk frames, sent chunked to the client).
func (w *streamWriter) sendHead(sniff []byte) error {
	if w.sent {
		return nil
	}
	length := w.info.contentLength
	w.bodyType = frames.Chunk
	if length >= 0 {
		w.bodyType = frames.Body
	}
	if err := w.st.send(frames.Headers, w.appendHead(nil, length, sniff)); err != nil {
		return w.fail(err)
	}
	w.sent = true
	return nil
}

func (w *streamWriter) sendBuffered() error {
	err := w.st.sendBody(w.bodyType, w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		return w.fail(err)
	}
	return nil
}

func (w *streamWriter) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// appendHead appends the response head: status line, the handler's
// header lines, a sniffed Content-Type as net/http adds one, the
// Content-Length when length >= 0, and the empty line.
func (w *streamWriter) appendHead(dst []byte, length int64, sniff []byte) []byte {
	dst = appendStatusLine(dst, w.status)
	dst = append(dst, w.head...)
	if bodyAllowed(w.status) {
		if !w.info.hasType && !w.info.hasEncoding && len(sniff) > 0 {
			dst = append(dst, "Content-Type: "...)
			dst = append(dst, http.DetectContentType(sniff[:min(len(sniff), sniffLen)])...)
			dst = append(dst, "\r\n"...)
		}
		if length >= 0 {
			dst = append(dst, "Content-Length: "...)
			dst = strconv.AppendInt(dst, length, 10)
			dst = append(dst, "\r\n"...)
		}
	}
	return append(dst, "\r\n"...)
}

// finish sends what the reply still needs once the handler has returned
// (or panicked with p), and the frame that ends it: end, or close when the
// reply is short of its Content-Length or the handler panicked after the
// head was sent. Nothing is sent on a stream the gateway ended.
func (w *streamWriter) finish(p any) error {
	st := w.st
	if err := st.err(); err != nil {
		return err
	}
	if w.ws != nil {
		return w.ws.finish(p != nil)
	}
	if p != nil {
		if p == http.ErrAbortHandler || w.sent {
			return st.send(frames.Close, nil)
		}
		// Nothing was sent, so the window is whole: the canned body
		// (22 bytes) needs no credit.
		if err := st.send(frames.Headers, replyInternalError); err != nil {
			return err
		}
		return st.send(frames.End, nil)
	}
	if w.err != nil {
		return st.send(frames.Close, nil)
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	last := frames.End
	declared := w.info.contentLength
	// A body short of the length the handler declared: the gateway cuts
	// the response (docs/PROTOCOL.md), and close says so at once.
	short := !w.isHead && bodyAllowed(w.status) && w.written < declared
	if short {
		last = frames.Close
	}
	if w.sent {
		if !w.isHead {
			if err := w.sendBuffered(); err != nil {
				return err
			}
		}
		return st.send(last, nil)
	}
	n := w.written
	switch {
	case w.isHead && n == 0 && declared >= 0:
		n = declared // HEAD answered with a length and no body (http.ServeContent)
	case short:
		n = declared
	}
	body := w.buf
	if w.isHead {
		body = nil
	}
	msg := w.appendHead(make([]byte, 0, 256+len(w.head)+min(len(body), maxFrameBody)), n, w.buf)
	if len(body) <= maxFrameBody {
		// The body rides in the headers frame (it fits: at most
		// writeBuffer), and counts against the window all the same.
		if len(body) > 0 {
			if _, err := st.win.take(len(body), len(body), st.ended, st.err); err != nil {
				return err
			}
		}
		msg, body = append(msg, body...), nil
	}
	if err := st.send(frames.Headers, msg); err != nil {
		return err
	}
	if err := st.sendBody(frames.Body, body); err != nil {
		return err
	}
	return st.send(last, nil)
}
