package frontend

import (
	"bytes"
	"errors"

	"github.com/nanogate/nanogate/session"
)

// framing is what the header scan learns about the request.
type framing struct {
	framed    bool   // Content-Length or Transfer-Encoding present
	requestID []byte // the client's X-Request-Id when it is sane
}

// errSmuggling names the request shapes that proxies and servers disagree
// on, the raw material of request smuggling (RFC 9112 section 6.3 and
// 11.2). fasthttp v1.74.0 accepts some of them, so they are refused here.
type errSmuggling string

func (e errSmuggling) Error() string { return string(e) }

const (
	errBothLengths  = errSmuggling("both Content-Length and Transfer-Encoding")
	errTwoLengths   = errSmuggling("conflicting Content-Length values")
	errBadLength    = errSmuggling("invalid Content-Length")
	errBadEncoding  = errSmuggling("Transfer-Encoding other than a single chunked")
	errFolded       = errSmuggling("obsolete line folding")
	errBadFieldName = errSmuggling("invalid header field name")
	errBadTarget    = errSmuggling("invalid percent-encoding in the request target")
)

// errTooManyHeaders: more header lines than maxHeaderLines (431).
var errTooManyHeaders = errors.New("too many header lines")

// maxHeaderLines bounds the header lines of a request, as Apache's
// LimitRequestFields and Envoy's max_headers_count do (both 100): a
// request of many tiny lines costs every parser on its way a line each.
const maxHeaderLines = 100

var chunked = []byte("chunked")

// scanHeaders checks the raw header block (as received, without the
// request line) in one pass.
func scanHeaders(raw []byte) (framing, error) {
	var f framing
	var length []byte
	encodings, lines := 0, 0
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\n')
		var line []byte
		if i < 0 {
			line, raw = raw, nil
		} else {
			line, raw = raw[:i], raw[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if lines++; lines > maxHeaderLines {
			return f, errTooManyHeaders
		}
		if line[0] == ' ' || line[0] == '\t' {
			return f, errFolded
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return f, errBadFieldName
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		if !session.ValidName(name) {
			// "Transfer-Encoding : chunked" is read differently by
			// different parsers; RFC 9112 section 5.1 says reject.
			return f, errBadFieldName
		}
		switch session.FieldOf(name) {
		case session.FieldContentLength:
			if _, ok := session.ParseLength(value); !ok {
				return f, errBadLength
			}
			if length != nil && !bytes.Equal(length, value) {
				return f, errTwoLengths
			}
			length = value
		case session.FieldTransferEncoding:
			encodings++
			if encodings > 1 || !bytes.EqualFold(value, chunked) {
				return f, errBadEncoding
			}
		case session.FieldRequestID:
			if saneID(value) {
				f.requestID = value
			}
		}
	}
	if length != nil && encodings > 0 {
		return f, errBothLengths
	}
	f.framed = length != nil || encodings > 0
	return f, nil
}

// validTarget reports whether every '%' of a request target starts a
// percent-encoded octet (RFC 3986 section 2.1): "%zz" and a trailing "%"
// mean different things to different parsers on the way to a worker.
func validTarget(uri []byte) bool {
	for i := bytes.IndexByte(uri, '%'); i >= 0; {
		if i+2 >= len(uri) || !isHex(uri[i+1]) || !isHex(uri[i+2]) {
			return false
		}
		j := bytes.IndexByte(uri[i+3:], '%')
		if j < 0 {
			return true
		}
		i += 3 + j
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// saneID accepts a client's request id that is safe to log and forward:
// 1 to 128 characters of letters, digits and -._:
func saneID(b []byte) bool {
	if len(b) == 0 || len(b) > 128 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c == ':':
		default:
			return false
		}
	}
	return true
}
