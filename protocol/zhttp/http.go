package zhttp

import (
	"bytes"
	"strconv"

	"github.com/nanogate/nanogate/session"
)

// Request is what FromHead learned from a request head beyond the packet
// fields: how its body is framed.
type Request struct {
	ContentLength int64 // -1: none announced
	Chunked       bool
	Body          []byte // bytes after the head (format http carries the body there)
}

// Framed tells that a body follows the head (Content-Length, even 0, or
// chunked), as format frames sends it.
func (r *Request) Framed() bool { return r.Chunked || r.ContentLength >= 0 }

// The request header the gateway adds to heads of format frames; it names
// the gateway's nanomsg inbound address and means nothing to a ZHTTP
// handler.
var inboundHeader = []byte("X-Nanogate-Inbound")

// FromHead fills the request fields of p (method, uri, headers,
// peer-address) from an HTTP/1.x request head as package session writes
// it (docs/PROTOCOL.md, format http: request line, header lines, an empty
// line, then the body, if any). The uri is absolute, as ZHTTP wants:
// scheme from X-Forwarded-Proto (zero: http), authority from Host. It is
// appended to scratch, and p's slices alias head and scratch.
func FromHead(p *Packet, head, scratch []byte) (Request, []byte, error) {
	r := Request{ContentLength: -1}
	line, rest, ok := cutLine(head)
	if !ok {
		return r, scratch, ErrRequestHead
	}
	method, line, ok1 := bytes.Cut(line, []byte(" "))
	target, proto, ok2 := bytes.Cut(line, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 || !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
		return r, scratch, ErrRequestHead
	}
	p.Method = method
	p.HasHeaders = true
	var host, scheme []byte
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return r, scratch, ErrRequestHead
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !session.ValidName(name) {
			return r, scratch, ErrRequestHead
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, inboundHeader):
			continue
		case bytes.EqualFold(name, []byte("Host")):
			host = value
		case bytes.EqualFold(name, []byte("X-Forwarded-Proto")):
			scheme = value
		case bytes.EqualFold(name, []byte("X-Forwarded-For")):
			// The gateway appends the client's address last.
			if i := bytes.LastIndexByte(value, ','); i >= 0 {
				p.PeerAddress = bytes.TrimLeft(value[i+1:], " ")
			} else {
				p.PeerAddress = value
			}
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return r, scratch, ErrRequestHead
			}
			r.ContentLength = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			r.Chunked = true
		}
		if len(p.Headers) == MaxHeaders {
			return r, scratch, ErrTooManyHdrs
		}
		p.Headers = append(p.Headers, Header{Name: name, Value: value})
	}
	r.Body = rest
	start := len(scratch)
	if bytes.HasPrefix(target, []byte("http://")) || bytes.HasPrefix(target, []byte("https://")) {
		scratch = append(scratch, target...)
	} else {
		if len(scheme) == 0 {
			scheme = []byte("http")
		}
		if len(host) == 0 {
			host = []byte("localhost")
		}
		scratch = append(scratch, scheme...)
		scratch = append(scratch, "://"...)
		scratch = append(scratch, host...)
		scratch = append(scratch, target...)
	}
	p.URI = scratch[start:]
	return r, scratch, nil
}

// cutLine returns the line at the start of b without its CRLF (or LF).
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil, false
	}
	line = b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, b[i+1:], true
}

// AppendHead writes the HTTP/1.1 response head of a handler's first data
// packet: status line, the handler's headers, an empty line. A handler's
// Transfer-Encoding is dropped (ZHTTP leaves transfer codings to the
// server); when the packet is the whole response (no more) and the handler
// gave no Content-Length, one is added with the body's length, as Condure
// does. Names must be tokens, values and the reason free of CR, LF and NUL:
// the head is parsed again downstream, and a value with a line break in it
// would forge header lines.
func AppendHead(dst []byte, p *Packet) ([]byte, error) {
	if p.Code == 0 {
		return dst, ErrNoCode
	}
	if p.Code < 100 || p.Code > 999 {
		return dst, ErrBadStatus
	}
	if bad(p.Reason) {
		return dst, ErrReason
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(p.Code), 10)
	if len(p.Reason) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, p.Reason...)
	}
	dst = append(dst, "\r\n"...)
	length := false
	for _, h := range p.Headers {
		if !session.ValidName(h.Name) {
			return dst, ErrHeaderName
		}
		if bad(h.Value) {
			return dst, ErrHeaderValue
		}
		switch {
		case bytes.EqualFold(h.Name, []byte("Transfer-Encoding")):
			continue
		case bytes.EqualFold(h.Name, []byte("Content-Length")):
			length = true
		}
		dst = append(dst, h.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.Value...)
		dst = append(dst, "\r\n"...)
	}
	if !p.More && !length && p.Code != 204 && p.Code != 304 {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(p.Body)), 10)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...), nil
}

func bad(b []byte) bool { return bytes.ContainsAny(b, "\r\n\x00") }
