package worker

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nanogate/nanogate/session"
	"go.nanomsg.org/mangos/v3"
)

const (
	// sniffLen is how much of the body http.DetectContentType reads.
	sniffLen = 512
	// maxPooledBuf bounds the buffers kept in responsePool: one 5 MiB reply
	// must not pin 5 MiB per pooled writer for the life of the process.
	maxPooledBuf = 1 << 20
)

// response is the http.ResponseWriter given to handlers. The reply is one
// message, so everything is buffered and encoded by appendTo once the
// handler returns. Pooled: acquireResponse, releaseResponse.
type response struct {
	header  http.Header
	status  int  // 0 until the header is written
	isHead  bool // HEAD request: count the body, keep only what sniffing needs
	written int  // body bytes the handler wrote
	body    []byte

	// Taken when the header is written: like net/http, changes to the
	// header map after WriteHeader (or the first Write) are not sent.
	head []byte // encoded header lines, see appendHeader
	info headerInfo

	keys []string // scratch space for sorting header names
}

var responsePool = sync.Pool{
	New: func() any { return new(response) },
}

// acquireResponse returns a writer from the pool. The header map is always
// new, made by the first call to Header: a handler may keep a reference to
// it (a bug, but a common one), and a reused map would then leak headers
// into another request.
func acquireResponse(isHead bool) *response {
	w := responsePool.Get().(*response)
	w.isHead = isHead
	return w
}

// releaseResponse returns w to the pool; w must not be used afterwards.
func releaseResponse(w *response) {
	head, body, keys := w.head[:0], w.body[:0], w.keys
	if cap(head) > maxPooledBuf {
		head = nil
	}
	if cap(body) > maxPooledBuf {
		body = nil
	}
	clear(keys) // do not keep the handler's strings alive
	*w = response{head: head, body: body, keys: keys[:0]}
	responsePool.Put(w)
}

// Header implements http.ResponseWriter.
func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

// WriteHeader implements http.ResponseWriter with net/http's rules: the
// first final status wins and later calls are ignored, an invalid code
// panics (the panic becomes a 500). Interim 1xx responses are dropped,
// since one message carries one final response; 101 is passed on as is.
func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http's checkWriteHeaderCode
	}
	if w.status != 0 || (code < 200 && code != http.StatusSwitchingProtocols) {
		return
	}
	w.status = code
	w.head, w.keys, w.info = appendHeader(w.head[:0], w.header, w.keys)
}

// Write implements http.ResponseWriter. Without a prior WriteHeader the
// status is 200. A body for 1xx, 204 or 304 is refused with
// http.ErrBodyNotAllowed, as net/http does.
func (w *response) Write(p []byte) (int, error) { return write(w, p) }

// WriteString implements io.StringWriter, so io.WriteString and
// fmt.Fprint do not convert to []byte first.
func (w *response) WriteString(s string) (int, error) { return write(w, s) }

func write[T string | []byte](w *response, p T) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += len(p)
	if w.isHead {
		// The reply to HEAD has no body but the Content-Length and the
		// sniffed Content-Type of the one GET would get (RFC 9110
		// section 9.3.2): count everything, keep only the sniffing prefix.
		if room := sniffLen - len(w.body); room > 0 {
			w.body = append(w.body, p[:min(room, len(p))]...)
		}
		return len(p), nil
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// Flush implements http.Flusher as a no-op: the reply is a single message,
// sent when the handler returns. Handlers that flush still work.
func (w *response) Flush() {}

// bodyAllowed reports whether a response with this status may carry a body
// (RFC 9110 sections 15.2, 15.3.5 and 15.4.5).
func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// finishHeader makes sure a status is set: a handler that wrote nothing
// (or only interim codes) answered 200 with an empty body, as with net/http.
func (w *response) finishHeader() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
}

// message encodes the reply into a new mangos message, sized once; the
// caller owns it. finishHeader must have been called.
func (w *response) message() *mangos.Message {
	m := mangos.NewMessage(w.encodedLen())
	m.Body = w.appendTo(m.Body)
	return m
}

// encodedLen is an upper bound of what appendTo adds, so that the reply
// message can be allocated once.
func (w *response) encodedLen() int {
	const statusLine = len("HTTP/1.1 999 \r\n") + 40 // 40: the longest StatusText
	const framing = len("Content-Type: \r\n") + 64 + len("Content-Length: \r\n\r\n") + 20
	return statusLine + len(w.head) + framing + len(w.body)
}

// appendTo appends the encoded reply to dst: the status line, the header
// lines taken at WriteHeader, the computed Content-Type and Content-Length,
// the empty line and the body. finishHeader must have been called. With
// enough capacity in dst it does not allocate.
func (w *response) appendTo(dst []byte) []byte {
	code := w.status
	dst = appendStatusLine(dst, code)
	dst = append(dst, w.head...)
	if !bodyAllowed(code) {
		// RFC 9110 section 8.6: no Content-Length on 1xx and 204; on 304 it
		// would describe a representation this reply does not have.
		return append(dst, "\r\n"...)
	}
	if !w.info.hasType && !w.info.hasEncoding && w.written > 0 {
		// net/http's behaviour: sniff unless the handler set Content-Type
		// (even to nil, which suppresses it) or encoded the body.
		dst = append(dst, "Content-Type: "...)
		dst = append(dst, http.DetectContentType(w.body[:min(len(w.body), sniffLen)])...)
		dst = append(dst, "\r\n"...)
	}
	n := int64(w.written)
	if w.isHead && w.written == 0 && w.info.contentLength >= 0 {
		// http.ServeContent and FileServer answer HEAD by setting
		// Content-Length and writing nothing: keep their length.
		n = w.info.contentLength
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, n, 10)
	dst = append(dst, "\r\n\r\n"...)
	if !w.isHead {
		dst = append(dst, w.body...)
	}
	return dst
}

// appendStatusLine appends "HTTP/1.1 code reason\r\n", with net/http's
// reason phrases ("Status 799" for a code it does not name).
func appendStatusLine(dst []byte, code int) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	if reason := http.StatusText(code); reason != "" {
		dst = append(dst, reason...)
	} else {
		dst = append(dst, "Status "...)
		dst = strconv.AppendInt(dst, int64(code), 10)
	}
	return append(dst, "\r\n"...)
}

// headerInfo is what the reply framing needs to know of the handler's header.
type headerInfo struct {
	hasType       bool  // Content-Type key present, even with no value
	hasEncoding   bool  // Content-Encoding set: the body must not be sniffed
	contentLength int64 // the handler's Content-Length, -1 if absent or invalid
}

// appendHeader appends one "Name: value\r\n" line per value of h to dst,
// names sorted so that replies are deterministic, every value of a repeated
// header (Set-Cookie) on its own line. It drops the framing headers that the
// reply computes itself or that mean nothing in a message (Content-Length,
// Transfer-Encoding, Connection, trailers), names that are not tokens, and
// replaces control characters in values with spaces, so a handler cannot
// split the reply (net/http does the same for CR and LF). keys is scratch
// space, returned for reuse. With enough capacity it does not allocate.
func appendHeader(dst []byte, h http.Header, keys []string) ([]byte, []string, headerInfo) {
	info := headerInfo{contentLength: -1}
	keys = keys[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs := h[k]
		// The names are compared ASCII case-insensitively: the only
		// non-ASCII letters that Unicode folds to ASCII (K, ſ) make a
		// name that is not a token, dropped all the same.
		switch {
		case is(k, "Content-Length"):
			if len(vs) > 0 {
				if n, err := strconv.ParseInt(strings.TrimSpace(vs[0]), 10, 64); err == nil && n >= 0 {
					info.contentLength = n
				}
			}
			continue
		case is(k, "Transfer-Encoding"), is(k, "Connection"),
			is(k, "Trailer"), strings.HasPrefix(k, http.TrailerPrefix):
			// Hop-by-hop or trailer fields: the gateway frames the
			// client's response itself, and a message has no trailers.
			continue
		case !session.ValidName(k):
			continue
		case is(k, "Content-Type"):
			info.hasType = true
		case is(k, "Content-Encoding"):
			info.hasEncoding = len(vs) > 0
		}
		for _, v := range vs {
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			dst = appendValue(dst, v)
			dst = append(dst, "\r\n"...)
		}
	}
	return dst, keys, info
}

// is reports whether the field name k is name, ASCII case-insensitively.
func is(k, name string) bool { return len(k) == len(name) && asciiEqualFold(k, name) }

// appendValue appends v with every control character but HTAB replaced by a
// space (RFC 9110 section 5.5 field-value).
func appendValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			for j := 0; j < len(v); j++ {
				c := v[j]
				if (c < ' ' && c != '\t') || c == 0x7f {
					c = ' '
				}
				dst = append(dst, c)
			}
			return dst
		}
	}
	return append(dst, v...)
}
