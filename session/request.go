package session

import (
	"bytes"
	"strconv"
)

// Request is what the front end knows of one client request. Every slice is
// borrowed for the duration of AppendRequest only.
type Request struct {
	Method []byte // as sent: "GET"
	URI    []byte // request-target as sent: "/api/x?y=1"
	Proto  []byte // "HTTP/1.1"
	// Header is the client's header block as received, without the request
	// line: lines ending in CRLF (a bare LF is accepted), optionally followed
	// by the empty line that ends the block.
	Header []byte
	Body   []byte // de-chunked
	// Framed tells that the client sent Content-Length or Transfer-Encoding,
	// so that an empty body still gets "Content-Length: 0".
	Framed bool

	// Forward adds X-Forwarded-For, X-Forwarded-Proto, X-Request-Id and
	// X-Nanogate-Session. Off is mod_nano's behaviour.
	Forward   bool
	ClientIP  []byte // textual address for X-Forwarded-For
	Scheme    []byte // for X-Forwarded-Proto; empty means "http"
	RequestID []byte // for X-Request-Id
	Session   ID

	// Extra is header lines added last, each ending in CRLF (format
	// frames: X-Nanogate-Inbound).
	Extra []byte
	// HeadOnly appends the head alone (format frames: the body follows in
	// body frames), framed by ContentLength instead of Body.
	HeadOnly bool
	// ContentLength, with HeadOnly and Framed, is the body's length, or -1
	// when the client did not announce it: the head then says
	// Transfer-Encoding: chunked (the body frames carry it de-chunked).
	ContentLength int
}

var (
	hContentLength  = []byte("Content-Length")
	hForwardedFor   = []byte("X-Forwarded-For")
	hForwardedProto = []byte("X-Forwarded-Proto")
	hRequestID      = []byte("X-Request-Id")
	hSession        = []byte("X-Nanogate-Session")
	schemeHTTP      = []byte("http")
)

// AppendRequest appends r in the http format (see the package doc) to dst
// and returns the extended buffer, which aliases dst when it has room.
// With a dst of sufficient capacity it does not allocate.
func AppendRequest(dst []byte, r *Request) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, ' ')
	dst = append(dst, r.URI...)
	dst = append(dst, ' ')
	dst = append(dst, r.Proto...)
	dst = append(dst, "\r\n"...)

	// The client's X-Forwarded-For lines (there may be several) are written
	// once, after the others, with the client's address appended.
	priorXFF := false
	for rest := r.Header; len(rest) > 0; {
		var line []byte
		line, rest = nextLine(rest)
		name, _, ok := splitHeader(line)
		if !ok {
			continue // the empty line ending the block, or a stray one
		}
		switch FieldOf(name) {
		case FieldContentLength, FieldTransferEncoding:
			continue
		case FieldForwardedFor:
			if r.Forward {
				priorXFF = true
				continue
			}
		case FieldForwardedProto, FieldRequestID, FieldSession:
			if r.Forward {
				continue
			}
		case FieldInbound:
			if r.HeadOnly {
				// Format frames: the worker sends the session's
				// replies where this names; only the gateway says.
				continue
			}
		}
		dst = append(dst, line...)
		dst = append(dst, "\r\n"...)
	}

	switch {
	case r.HeadOnly && r.Framed && r.ContentLength < 0:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case r.HeadOnly && r.Framed:
		dst = appendHeaderInt(dst, hContentLength, r.ContentLength)
	case r.HeadOnly:
	case len(r.Body) > 0 || r.Framed:
		dst = appendHeaderInt(dst, hContentLength, len(r.Body))
	}
	if r.Forward {
		dst = append(dst, hForwardedFor...)
		dst = append(dst, ": "...)
		if priorXFF {
			dst = appendPriorXFF(dst, r.Header)
			dst = append(dst, ", "...)
		}
		dst = append(dst, r.ClientIP...)
		dst = append(dst, "\r\n"...)
		scheme := r.Scheme
		if len(scheme) == 0 {
			scheme = schemeHTTP
		}
		dst = appendHeader(dst, hForwardedProto, scheme)
		dst = appendHeader(dst, hRequestID, r.RequestID)
		dst = append(dst, hSession...)
		dst = append(dst, ": "...)
		dst = r.Session.AppendHex(dst)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, r.Extra...)
	dst = append(dst, "\r\n"...)
	if r.HeadOnly {
		return dst
	}
	return append(dst, r.Body...)
}

// appendPriorXFF appends the values of every X-Forwarded-For line in header,
// joined by ", " (RFC 9110 section 5.3: repeated field lines combine so).
func appendPriorXFF(dst, header []byte) []byte {
	first := true
	for rest := header; len(rest) > 0; {
		var line []byte
		line, rest = nextLine(rest)
		name, value, ok := splitHeader(line)
		if !ok || FieldOf(name) != FieldForwardedFor || len(value) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ", "...)
		}
		dst = append(dst, value...)
		first = false
	}
	return dst
}

func appendHeader(dst, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

func appendHeaderInt(dst, name []byte, n int) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, "\r\n"...)
}

// nextLine splits b at the first LF; the line is returned without its CRLF
// or LF.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// splitHeader splits "Name: value" and trims optional whitespace around the
// value (RFC 9112 section 5.1). ok is false for a line without a colon or
// with an empty name.
func splitHeader(line []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, false
	}
	return line[:i], trimOWS(line[i+1:]), true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
