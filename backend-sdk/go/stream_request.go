package worker

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/nanogate/nanogate/protocol/frames"
)

// streamHead is a parsed request frame: the request, and how its body
// arrives.
type streamHead struct {
	r       *http.Request
	length  int64  // Content-Length, -1 when the body is chunked (of unknown length)
	hasBody bool   // body frames follow (or came in the request frame)
	early   []byte // body bytes that came in the request frame itself
	inbound string // the gateway's inbound address, X-Nanogate-Inbound
}

// parseStreamRequest reads the body of a request frame: the request head
// in the http format (docs/PROTOCOL.md), where, unlike the http format, the
// framing headers announce a body that follows in body frames:
// Content-Length: N, or Transfer-Encoding: chunked when the client did not
// say (the body arrives de-chunked all the same). Those two fields are taken
// out and the rest goes through the http format's parser (parseInto), so
// that a handler sees the same request either way; then r.ContentLength,
// r.TransferEncoding and the Content-Length header are set as net/http
// sets them. Bytes after the head are the start of the body (frames.Request:
// a route that buffers sends the whole body there).
func parseStreamRequest(msg []byte) (*streamHead, error) {
	rl, err := parseRequestLine(msg)
	if err != nil {
		return nil, err
	}
	p := acquireParser()
	defer releaseParser(p)
	headLen, err := p.scanHeader(msg, rl.pos)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, malformed(err)
	}

	h := new(streamHead)
	var lengths, encodings []string
	stripped := make([]byte, 0, headLen)
	stripped = append(stripped, msg[:rl.pos]...)
	for _, f := range p.fields {
		v := string(p.bytes(msg, f.value))
		switch f.kind {
		case fieldContentLength:
			lengths = append(lengths, v)
			continue
		case fieldTransferEncoding:
			encodings = append(encodings, v)
			continue
		}
		stripped = append(stripped, p.bytes(msg, f.name)...)
		stripped = append(stripped, ": "...)
		stripped = append(stripped, v...)
		stripped = append(stripped, "\r\n"...)
	}
	stripped = append(stripped, "\r\n"...)
	if err := h.framing(lengths, encodings); err != nil {
		return nil, malformed(err)
	}

	r := new(http.Request)
	if _, err := parseInto(r, stripped); err != nil {
		return nil, err
	}
	switch {
	case h.length >= 0:
		r.ContentLength = h.length
		r.Header["Content-Length"] = []string{strconv.FormatInt(h.length, 10)}
	case h.hasBody:
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
	}
	if rest := msg[headLen:]; len(rest) > 0 {
		h.early = append([]byte(nil), rest...)
		h.hasBody = true
	}
	// The gateway adds its header after the client's: the last one is its
	// own, as with X-Forwarded-For.
	if vs := r.Header["X-Nanogate-Inbound"]; len(vs) > 0 {
		h.inbound = vs[len(vs)-1]
	}
	h.r = r
	return h, nil
}

// framing checks the two framing fields: repeated lengths must agree, the
// only coding is one "chunked", and not both (the gateway never sends
// both: a smuggling shape, RFC 9112 section 6.3).
func (h *streamHead) framing(lengths, encodings []string) error {
	switch {
	case len(lengths) > 0 && len(encodings) > 0:
		return errors.New("both Content-Length and Transfer-Encoding")
	case len(encodings) > 0:
		if len(encodings) > 1 || !asciiEqualFold(trimString(encodings[0]), "chunked") {
			return fmt.Errorf("unsupported transfer encoding: %q", encodings)
		}
		h.length, h.hasBody = -1, true
	case len(lengths) > 0:
		for i, v := range lengths {
			n, err := strconv.ParseUint(trimString(v), 10, 63)
			if err != nil || i > 0 && int64(n) != h.length {
				return fmt.Errorf("bad Content-Length %q", lengths)
			}
			h.length = int64(n)
		}
		h.hasBody = h.length > 0
	default:
		h.length = 0 // neither: no body
	}
	return nil
}

// streamBody is the request body of a stream: the pieces the body frames
// bring, in order, until the empty one.
type streamBody struct {
	q      *queue
	cur    []byte
	curIt  item  // the piece cur reads from, recycled once read
	want   int64 // Content-Length, -1 if unknown
	got    int64
	err    error // sticky: io.EOF at the end
	closed bool
}

// errBodyClosed is net/http's answer to a read after Close.
var errBodyClosed = errors.New("http: invalid Read on closed Body")

// Read implements io.Reader. It returns ErrStreamEnded when the gateway
// ends the stream before the body is complete.
func (b *streamBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errBodyClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := b.fill(); err != nil {
		return 0, err
	}
	n := copy(p, b.cur)
	b.cur = b.cur[n:]
	b.got += int64(n)
	return n, nil
}

// WriteTo implements io.WriterTo, so that io.Copy hands each piece to w as
// it is, without copying it through a buffer of its own first: a handler
// counting a 1 GiB upload with io.Copy(io.Discard, r.Body) spent 14% of
// its CPU on that copy (pprof under bench/harness --scenario stream).
func (b *streamBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if b.closed {
			return total, errBodyClosed
		}
		if err := b.fill(); err == io.EOF {
			return total, nil
		} else if err != nil {
			return total, err
		}
		n, err := w.Write(b.cur)
		b.cur = b.cur[n:]
		b.got += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// fill makes cur the next piece if it is read, waiting for one; it
// returns io.EOF at the end of the body, or why there is no more.
func (b *streamBody) fill() error {
	for len(b.cur) == 0 {
		b.curIt.recycle()
		b.curIt = item{}
		if b.err != nil {
			return b.err
		}
		it, err := b.q.take()
		switch {
		case err != nil:
			b.err = err
		case it.t != frames.Body:
			// Not a body piece (a WebSocket message on a request with a
			// body?): not for this reader.
		case len(it.data) == 0:
			b.err = io.EOF
			if b.want >= 0 && b.got != b.want {
				b.err = io.ErrUnexpectedEOF
			}
		default:
			b.cur, b.curIt = it.data, it
		}
	}
	return nil
}

// Close makes later reads fail; the pieces still to come are dropped.
func (b *streamBody) Close() error {
	if !b.closed {
		b.closed = true
		b.q.close(errBodyClosed)
	}
	return nil
}
