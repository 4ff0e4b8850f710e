package session

import (
	"bytes"
)

// Response is a worker's reply, parsed in place. Every slice aliases the
// reply buffer given to Parse.
type Response struct {
	Proto  []byte // "HTTP/1.1" or "HTTP/1.0"
	Status int
	Reason []byte
	// Header is the block of header lines, each ending in LF (CRLF or bare
	// LF as the worker sent them), without the empty line. Walk it with
	// NextHeader.
	Header []byte
	Body   []byte
	// ContentLength is the reply's Content-Length, or -1 when it had none
	// or was chunked. It differs from len(Body) only for HEAD and 304.
	ContentLength int
}

// Parse parses reply into r. head tells that the request was HEAD, whose
// reply may announce a Content-Length without carrying the body (RFC 9110
// section 9.3.2). A chunked body is decoded in place, so reply is modified.
func (r *Response) Parse(reply []byte, head bool) error {
	chunked, err := r.ParseHead(reply)
	if err != nil {
		return err
	}
	contentLength := r.ContentLength
	r.ContentLength = -1
	noBody := head || r.Status == 204 || r.Status == 304
	switch {
	case chunked && contentLength >= 0:
		// RFC 9112 section 6.3: a sender must not send both; as a reply to
		// relay it is ambiguous, so it is refused.
		return ErrContentLength
	case chunked:
		body, err := dechunk(r.Body)
		if err != nil {
			return err
		}
		r.Body = body
	case contentLength < 0:
		// mod_nano's workers send no Content-Length: the body is the rest.
	case len(r.Body) == contentLength:
	case noBody && len(r.Body) == 0:
	default:
		return ErrBodyLength
	}
	if noBody && len(r.Body) > 0 {
		return ErrBodyLength
	}
	if !chunked {
		r.ContentLength = contentLength
	}
	return nil
}

// LooksLikeResponse is a cheap test that reply starts like a response of
// this format ("HTTP/1.0 " or "HTTP/1.1 " and a digit), for the passive
// health of endpoints: a worker that answers garbage is found without
// parsing every reply twice.
func LooksLikeResponse(reply []byte) bool {
	return len(reply) >= 10 && bytes.HasPrefix(reply, []byte("HTTP/1.")) && (reply[7] == '0' || reply[7] == '1') &&
		reply[8] == ' ' && reply[9] >= '1' && reply[9] <= '9'
}

// ParseHead parses the status line and the header block of msg into r; the
// bytes after the empty line are r.Body, as they are. ContentLength is the
// announced length or -1, and chunked tells that the head says
// Transfer-Encoding: chunked. Format frames sends a head alone, its body in
// later frames, so that no body rule applies here.
func (r *Response) ParseHead(msg []byte) (chunked bool, err error) {
	*r = Response{}
	line, rest := nextLine(msg)
	if err := r.parseStatusLine(line); err != nil {
		return false, err
	}
	end := headerEnd(rest)
	if end < 0 {
		return false, ErrNoHeaderEnd
	}
	r.Header, r.Body = rest[:end], rest[end:]
	if len(r.Body) > 0 && r.Body[0] == '\r' {
		r.Body = r.Body[1:]
	}
	r.Body = r.Body[1:] // the LF of the empty line

	r.ContentLength = -1
	for h := r.Header; len(h) > 0; {
		var name, value []byte
		name, value, h, err = NextHeader(h)
		if err != nil {
			return false, err
		}
		switch FieldOf(name) {
		case FieldContentLength:
			n, ok := ParseLength(value)
			if !ok || (r.ContentLength >= 0 && n != r.ContentLength) {
				return false, ErrContentLength
			}
			r.ContentLength = n
		case FieldTransferEncoding:
			if !bytes.EqualFold(value, []byte("chunked")) || chunked {
				return false, ErrEncoding
			}
			chunked = true
		}
	}
	return chunked, nil
}

func (r *Response) parseStatusLine(line []byte) error {
	// HTTP-version SP 3DIGIT SP [reason], RFC 9112 section 4; some workers
	// omit the space before an empty reason.
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) ||
		(line[7] != '0' && line[7] != '1') || line[8] != ' ' {
		return ErrStatusLine
	}
	r.Proto = line[:8]
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return ErrStatusLine
		}
		code = code*10 + int(c-'0')
	}
	if len(line) > 12 {
		if line[12] != ' ' {
			return ErrStatusLine
		}
		r.Reason = line[13:]
		for _, c := range r.Reason {
			if c < ' ' && c != '\t' || c == 0x7f {
				return ErrStatusLine
			}
		}
	}
	// 1xx replies are interim (or a protocol switch this format cannot
	// carry); a worker must send the final response.
	if code < 200 || code > 999 {
		return ErrStatusCode
	}
	r.Status = code
	return nil
}

// headerEnd returns the offset in b of the empty line that ends the header
// block (its CR or LF), or -1. b starts right after the status line.
func headerEnd(b []byte) int {
	if len(b) > 0 && (b[0] == '\n' || (b[0] == '\r' && len(b) > 1 && b[1] == '\n')) {
		return 0
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i
		}
	}
}

// NextHeader returns the first header line of block, split into name and
// value (optional whitespace trimmed), and the rest of the block. It checks
// the line against RFC 9110 section 5: a token name, no control characters
// in the value, no obsolete line folding.
func NextHeader(block []byte) (name, value, rest []byte, err error) {
	line, rest := nextLine(block)
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, nil, ErrHeaderLine
	}
	name = line[:i]
	if !ValidName(name) {
		return nil, nil, nil, ErrHeaderLine
	}
	value = trimOWS(line[i+1:])
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, nil, ErrHeaderLine
		}
	}
	return name, value, rest, nil
}

// dechunk decodes a chunked body (RFC 9112 section 7.1) in place: the
// decoded bytes are never longer than the encoded ones, so they are copied
// towards the front of b. Chunk extensions and trailers are dropped.
func dechunk(b []byte) ([]byte, error) {
	out, in := 0, 0
	for {
		j := bytes.IndexByte(b[in:], '\n')
		if j < 0 {
			return nil, ErrChunked
		}
		line := bytes.TrimSuffix(b[in:in+j], []byte("\r"))
		in += j + 1
		if k := bytes.IndexByte(line, ';'); k >= 0 {
			line = line[:k]
		}
		size, ok := parseHex(trimOWS(line))
		if !ok || size > len(b)-in {
			return nil, ErrChunked
		}
		if size == 0 {
			return b[:out], skipTrailers(b[in:])
		}
		copy(b[out:], b[in:in+size])
		out += size
		in += size
		if in < len(b) && b[in] == '\r' {
			in++
		}
		if in >= len(b) || b[in] != '\n' {
			return nil, ErrChunked
		}
		in++
	}
}

// skipTrailers checks that b is trailer lines ending with the empty line and
// nothing after it.
func skipTrailers(b []byte) error {
	for len(b) > 0 {
		j := bytes.IndexByte(b, '\n')
		if j < 0 {
			return ErrChunked
		}
		line := b[:j]
		b = b[j+1:]
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			if len(b) != 0 {
				return ErrChunked
			}
			return nil
		}
	}
	return ErrChunked
}

// ParseLength parses a Content-Length value: digits only, at most 18 of
// them so that it cannot overflow.
func ParseLength(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseHex parses a chunk size: at most 15 hex digits.
func parseHex(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int(d)
	}
	return n, true
}

var tokenTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
