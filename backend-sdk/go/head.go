package worker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strings"
	"sync"

	"github.com/nanogate/nanogate/session"
)

// This file scans the header block of a request message the way
// net/textproto's ReadMIMEHeader reads it (the reader http.ReadRequest
// uses), with the same results and the same errors, but without allocating:
// each header line becomes a field that records where its name and value
// are. parseInto then converts the head of the message to one string, and
// every name and value is a substring of it.

// errMessageTooLarge is textproto's error for an initial header line that
// starts with a space and is longer than it quotes.
var errMessageTooLarge = errors.New("message too large")

// span locates a name or a value: offsets in the message when start >= 0;
// otherwise ^start and ^end are offsets in parser.extra, where the names
// that need canonicalizing and the folded values are written (the message
// itself is read-only). In the head string, extra follows the message's
// head, so a span resolves with one addition.
type span struct{ start, end int }

// field is one header field of the message.
type field struct {
	name, value span
	kind        fieldKind
}

// fieldKind marks the fields that the parser interprets itself.
type fieldKind uint8

const (
	fieldOther fieldKind = iota
	fieldHost
	fieldContentLength
	fieldTransferEncoding
	fieldConnection
	fieldPragma
	fieldCacheControl
	fieldTrailer
	fieldForwardedFor
)

// kindOf classifies a canonical field name. The switch on a converted byte
// slice does not allocate.
func kindOf(name []byte) fieldKind {
	switch string(name) {
	case "Host":
		return fieldHost
	case "Content-Length":
		return fieldContentLength
	case "Transfer-Encoding":
		return fieldTransferEncoding
	case "Connection":
		return fieldConnection
	case "Pragma":
		return fieldPragma
	case "Cache-Control":
		return fieldCacheControl
	case "Trailer":
		return fieldTrailer
	case "X-Forwarded-For":
		return fieldForwardedFor
	}
	return fieldOther
}

// parser is the scratch space of one parse, pooled: nothing in it is
// reachable from the request once parseInto returns.
type parser struct {
	fields []field
	extra  []byte
}

// maxPooledFields and maxPooledExtra bound what a pooled parser keeps.
const (
	maxPooledFields = 256
	maxPooledExtra  = 16 << 10
)

var parserPool = sync.Pool{
	New: func() any { return &parser{fields: make([]field, 0, 32)} },
}

func acquireParser() *parser { return parserPool.Get().(*parser) }

func releaseParser(p *parser) {
	if cap(p.fields) > maxPooledFields || cap(p.extra) > maxPooledExtra {
		return
	}
	p.fields = p.fields[:0]
	p.extra = p.extra[:0]
	parserPool.Put(p)
}

// bytes returns the bytes of s during the scan.
func (p *parser) bytes(msg []byte, s span) []byte {
	if s.start >= 0 {
		return msg[s.start:s.end]
	}
	return p.extra[^s.start:^s.end]
}

// resolve returns s as a substring of head, the string of msg[:headLen]
// followed by p.extra.
func resolve(head string, headLen int, s span) string {
	if s.start >= 0 {
		return head[s.start:s.end]
	}
	return head[headLen+^s.start : headLen+^s.end]
}

// nextLine returns the line that starts at pos, [start, end) without its
// "\n" or "\r\n" (bufio.Reader.ReadLine's rule: one CR before the LF goes,
// a last line without LF is kept whole), and where the next line starts;
// next is -1 at the end of msg.
func nextLine(msg []byte, pos int) (start, end, next int) {
	if pos >= len(msg) {
		return pos, pos, -1
	}
	i := bytes.IndexByte(msg[pos:], '\n')
	if i < 0 {
		return pos, len(msg), len(msg)
	}
	end = pos + i
	if end > pos && msg[end-1] == '\r' {
		end--
	}
	return pos, end, pos + i + 1
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS narrows [start, end) of msg to exclude surrounding spaces and tabs.
func trimOWS(msg []byte, start, end int) (int, int) {
	for start < end && isOWS(msg[start]) {
		start++
	}
	for end > start && isOWS(msg[end-1]) {
		end--
	}
	return start, end
}

// scanHeader reads the header lines that start at pos up to the empty line
// that ends them, and returns the offset just past that line: the length of
// the head. Its rules and errors are textproto.Reader.ReadMIMEHeader's,
// io.EOF included when the message ends before the empty line.
func (p *parser) scanHeader(msg []byte, pos int) (int, error) {
	if pos < len(msg) && isOWS(msg[pos]) {
		// The first line cannot be a continuation.
		s, e, _ := nextLine(msg, pos)
		if e-s > 80 {
			return 0, errMessageTooLarge
		}
		return 0, textproto.ProtocolError(fmt.Sprintf("malformed MIME header initial line: %q", msg[s:e]))
	}
	for {
		s, e, next := nextLine(msg, pos)
		if next < 0 {
			return 0, io.EOF
		}
		pos = next
		if s == e {
			return pos, nil
		}
		colon := bytes.IndexByte(msg[s:e], ':')
		if colon < 0 {
			return 0, textproto.ProtocolError(fmt.Sprintf("malformed MIME header: missing colon: %q", msg[s:e]))
		}
		// (A line that starts with a space is a continuation, and the
		// first one has been refused above: only trailing space goes.)
		ts, te := trimOWS(msg, s, e)
		s, e, colon = ts, te, colon-(ts-s)
		kv := span{s, e}
		if pos < len(msg) && isOWS(msg[pos]) {
			// Obsolete line folding: each continuation line is trimmed
			// and joined with one space, in extra.
			x := len(p.extra)
			p.extra = append(p.extra, msg[s:e]...)
			for pos < len(msg) && isOWS(msg[pos]) {
				for pos < len(msg) && isOWS(msg[pos]) {
					pos++
				}
				p.extra = append(p.extra, ' ')
				cs, ce, next := nextLine(msg, pos)
				if next < 0 {
					break
				}
				pos = next
				cs, ce = trimOWS(msg, cs, ce)
				p.extra = append(p.extra, msg[cs:ce]...)
			}
			kv = span{^x, ^len(p.extra)}
		}
		if err := p.addField(msg, kv, colon); err != nil {
			return 0, err
		}
	}
}

// addField checks and records the "name: value" line kv, whose first colon
// is at colon: the name must be a token, canonicalized as textproto does (a
// name with a space, which textproto accepts, is kept as it is), and the
// value must have no control characters but HTAB; leading spaces are not
// part of it.
func (p *parser) addField(msg []byte, kv span, colon int) error {
	line := p.bytes(msg, kv)
	name, value := line[:colon], line[colon+1:]
	valid, hasSpace, canonical := checkName(name)
	if !valid {
		return malformedField(line)
	}
	if !validValue(value) {
		// textproto has canonicalized the name in place by now.
		if !hasSpace && !canonical {
			line = append(appendCanonical(nil, name), line[colon:]...)
		}
		return malformedField(line)
	}
	lead := 0
	for lead < len(value) && isOWS(value[lead]) {
		lead++
	}
	f := field{
		name:  span{kv.start, kv.start + colon},
		value: span{kv.start + colon + 1 + lead, kv.end},
	}
	if kv.start < 0 {
		// ^x + n is ^(x - n): offsets in extra run the other way.
		f.name = span{kv.start, kv.start - colon}
		f.value = span{kv.start - colon - 1 - lead, kv.end}
	}
	switch {
	case hasSpace:
		// Not canonicalized, so never one of the fields of kindOf.
	case canonical:
		f.kind = kindOf(name)
	default:
		x := len(p.extra)
		p.extra = appendCanonical(p.extra, name)
		f.name = span{^x, ^len(p.extra)}
		f.kind = kindOf(p.extra[x:])
	}
	p.fields = append(p.fields, f)
	return nil
}

// appendCanonical appends the canonical form of the field name, a token:
// upper case first and after each '-', lower case elsewhere.
func appendCanonical(dst, name []byte) []byte {
	upper := true
	for _, c := range name {
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
		upper = c == '-'
	}
	return dst
}

// checkName reports whether name is valid for textproto: not empty, made
// of token characters and spaces; whether it has a space (textproto then
// keeps it as it is); whether it is canonical (upper case first and after
// each '-', lower case elsewhere).
func checkName(name []byte) (valid, hasSpace, canonical bool) {
	canonical, upper := true, true
	for _, c := range name {
		if !session.IsTokenChar(c) {
			if c != ' ' {
				return false, false, false
			}
			hasSpace = true
			continue
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	return len(name) > 0, hasSpace, canonical
}

func malformedField(line []byte) error {
	return textproto.ProtocolError(fmt.Sprintf("malformed MIME header line: %q", line))
}

// validValue reports whether every byte of v is in valueChars, eight at a
// time: a word without a byte below 0x20 or equal to 0x7f is valid (bytes
// from 0x80 are obs-text), and only a word with one, a HTAB perhaps, is
// looked at byte by byte.
func validValue(v []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		y := x ^ (0x7f * ones)
		if ((x-0x20*ones)&^x|(y-ones)&^y)&highs != 0 {
			for _, c := range v[:8] {
				if !valueChars[c] {
					return false
				}
			}
		}
		v = v[8:]
	}
	for _, c := range v {
		if !valueChars[c] {
			return false
		}
	}
	return true
}

// valueChars are the bytes of a field value for textproto: VCHAR, SP, HTAB
// and obs-text.
var valueChars = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 0x20 && c != 0x7f || c == '\t'
	}
	return t
}()

// appendRemoteAddr appends what remoteAddr returns for an X-Forwarded-For
// whose last value is xff, when it can tell without allocating: for a
// dotted IPv4 address, netip's canonical form is its text, so the result is
// the text and ":0". ok is false for anything else (IPv6, not an address),
// which remoteAddr then decides.
func appendRemoteAddr(dst, xff []byte) ([]byte, bool) {
	if i := bytes.LastIndexByte(xff, ','); i >= 0 {
		xff = xff[i+1:]
	}
	ip := bytes.TrimSpace(xff)
	if !isIPv4(ip) {
		return dst, false
	}
	dst = append(dst, ip...)
	return append(dst, ":0"...), true
}

// isIPv4 reports whether netip.ParseAddr accepts s as an IPv4 address:
// four decimal fields of at most 255, without leading zeros.
func isIPv4(s []byte) bool {
	fields, val, digits := 0, 0, 0
	for i, c := range s {
		switch {
		case '0' <= c && c <= '9':
			if digits == 1 && val == 0 {
				return false
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return false
			}
		case c == '.':
			if i == 0 || i == len(s)-1 || s[i-1] == '.' || fields == 3 {
				return false
			}
			fields++
			val, digits = 0, 0
		default:
			return false
		}
	}
	return fields == 3
}

// trimString is textproto.TrimString: without ASCII space, HTAB,
// CR and LF around.
func trimString(s string) string {
	for len(s) > 0 && isASCIISpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isASCIISpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isASCIISpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// asciiEqualFold is net/http's ASCII-only case-insensitive comparison.
func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != lowerASCII(t[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + ('a' - 'A')
	}
	return b
}

// headerValueContainsToken reports whether the comma-separated list v has
// token (lower case), as httpguts.HeaderValuesContainsToken does for one
// value.
func headerValueContainsToken(v, token string) bool {
	for {
		elem, rest, more := strings.Cut(v, ",")
		for len(elem) > 0 && isOWS(elem[0]) {
			elem = elem[1:]
		}
		for len(elem) > 0 && isOWS(elem[len(elem)-1]) {
			elem = elem[:len(elem)-1]
		}
		if tokenEqual(elem, token) {
			return true
		}
		if !more {
			return false
		}
		v = rest
	}
}

// tokenEqual is httpguts' comparison: ASCII case-insensitive, and false
// for any non-ASCII byte.
func tokenEqual(t1, t2 string) bool {
	if len(t1) != len(t2) {
		return false
	}
	for i := 0; i < len(t1); i++ {
		if t1[i] >= 0x80 || lowerASCII(t1[i]) != lowerASCII(t2[i]) {
			return false
		}
	}
	return true
}
