package worker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
)

// Request message errors. Each one is answered with 400 Bad Request.
var (
	errTransferEncoding = errors.New("worker: request message has a Transfer-Encoding (the gateway must de-chunk bodies)")
	errVersion          = errors.New("worker: request message is not HTTP/1.x")
	errBodyLength       = errors.New("worker: request body length differs from its Content-Length")
)

// headReader is what http.ReadRequest reads from: a bufio.Reader over the
// message. Pooled whole, since each would otherwise cost a 4 KiB buffer and
// a bytes.Reader per request.
type headReader struct {
	src bytes.Reader
	br  *bufio.Reader
}

var readerPool = sync.Pool{
	New: func() any {
		hr := new(headReader)
		hr.br = bufio.NewReaderSize(&hr.src, 4096)
		return hr
	},
}

// body is the request body: a reader over the message itself, so that the
// body is never copied. One allocation instead of io.NopCloser's two.
type body struct {
	bytes.Reader
}

// Close is a no-op: the message is freed by the server once the handler
// returns, as net/http closes a request body itself.
func (*body) Close() error { return nil }

// parseRequest decodes one request message (the http format of the session
// package: an HTTP/1.1 request as on the wire, body de-chunked and framed by
// Content-Length). The returned request's Body reads msg in place, so msg
// must stay valid until the handler returns; the returned *body is that
// Body (nil for an empty body), which the caller empties once the handler
// has returned so that a late read cannot see a recycled buffer.
func parseRequest(msg []byte) (*http.Request, *body, error) {
	hr := readerPool.Get().(*headReader)
	hr.src.Reset(msg)
	hr.br.Reset(&hr.src)
	r, err := http.ReadRequest(hr.br)
	// What ReadRequest consumed is the head; the rest, read ahead into br
	// or still in src, is the body.
	headLen := len(msg) - hr.src.Len() - hr.br.Buffered()
	hr.src.Reset(nil) // drop the references to msg before pooling
	hr.br.Reset(&hr.src)
	readerPool.Put(hr)
	if err != nil {
		return nil, nil, fmt.Errorf("worker: malformed request message: %w", err)
	}
	// ReadRequest takes any "HTTP/d.d"; the format carries HTTP/1.x only
	// (net/http's server answers other versions 505).
	if r.ProtoMajor != 1 {
		return nil, nil, errVersion
	}
	// ReadRequest has removed the Transfer-Encoding header and recorded
	// it here (an HTTP/1.0 one it ignores, as RFC 9112 section 6.1 allows).
	if len(r.TransferEncoding) > 0 {
		return nil, nil, errTransferEncoding
	}
	rest := msg[headLen:]
	if _, framed := r.Header["Content-Length"]; framed {
		// ReadRequest has already refused a malformed or conflicting
		// Content-Length; a body of another length is a framing error
		// (a smuggling shape if it were relayed), not something to guess.
		if r.ContentLength != int64(len(rest)) {
			return nil, nil, errBodyLength
		}
	} else {
		// mod_nano sends the client's bytes as they came: without
		// Content-Length, the body is the rest of the message.
		r.ContentLength = int64(len(rest))
	}

	var b *body
	if len(rest) == 0 {
		r.Body = http.NoBody
	} else {
		b = &body{}
		b.Reset(rest)
		r.Body = b
	}
	r.RemoteAddr = remoteAddr(r.Header["X-Forwarded-For"])
	return r, b, nil
}

// remoteAddr returns "ip:0" for the last X-Forwarded-For entry: the gateway
// appends the client's address to whatever the client sent, so only the last
// entry is the gateway's own observation (earlier ones can be spoofed). The
// port is unknown, and 0 keeps net.SplitHostPort working in handlers. It
// returns "" when there is no usable entry (mod_nano sends none).
func remoteAddr(xff []string) string {
	if len(xff) == 0 {
		return ""
	}
	last := xff[len(xff)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(last))
	if err != nil {
		return ""
	}
	return netip.AddrPortFrom(ip, 0).String()
}
