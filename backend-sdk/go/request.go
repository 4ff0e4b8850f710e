package worker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/nanogate/nanogate/session"
)

// Request message errors. Each one is answered with 400 Bad Request.
var (
	errTransferEncoding = errors.New("worker: request message has a Transfer-Encoding (the gateway must de-chunk bodies)")
	errVersion          = errors.New("worker: request message is not HTTP/1.x")
	errBodyLength       = errors.New("worker: request body length differs from its Content-Length")
)

// body is the request body: a reader over the message itself, so that the
// body is never copied. One allocation instead of io.NopCloser's two.
type body struct {
	bytes.Reader
}

// Close is a no-op: the message is freed by the server once the handler
// returns, as net/http closes a request body itself.
func (*body) Close() error { return nil }

// setBody makes rest the body of r, read in place, and returns it; nil and
// http.NoBody when rest is empty.
func setBody(r *http.Request, rest []byte) *body {
	if len(rest) == 0 {
		r.Body = http.NoBody
		return nil
	}
	b := &body{}
	b.Reset(rest)
	r.Body = b
	return b
}

// parseRequest decodes one request message (the http format of the session
// package: an HTTP/1.1 request as on the wire, body de-chunked and framed by
// Content-Length). The returned request's Body reads msg in place, so msg
// must stay valid until the handler returns; the returned *body is that
// Body (nil for an empty body), which the caller empties once the handler
// has returned so that a late read cannot see a recycled buffer.
func parseRequest(msg []byte) (*http.Request, *body, error) {
	r := new(http.Request)
	b, err := parseInto(r, msg)
	if err != nil {
		return nil, nil, err
	}
	return r, b, nil
}

// parseInto is parseRequest into a request of the caller's, which it may
// keep on its stack: r does not escape. The request is the one
// http.ReadRequest returns for msg, field by field, and so are its errors
// (wrapped), in the same order of precedence; only the allocations differ.
// The head of the message (request line and header block) is converted to
// one string, and the method, target, protocol, header names and values and
// RemoteAddr are substrings of it.
func parseInto(r *http.Request, msg []byte) (*body, error) {
	rl, err := parseRequestLine(msg)
	if err != nil {
		return nil, err
	}
	method, target, proto := rl.method, rl.target, rl.proto
	sp1, sp2, lineEnd, pos := rl.sp1, rl.sp2, rl.lineEnd, rl.pos
	major, minor, connect := rl.major, rl.minor, rl.connect

	p := acquireParser()
	defer releaseParser(p)
	headLen, err := p.scanHeader(msg, pos)
	if err != nil {
		// net/http parses the target before it reads the header.
		if _, uerr := parseTarget(connect, string(target)); uerr != nil {
			return nil, malformed(uerr)
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, malformed(err)
	}

	// RemoteAddr is written to extra too, when it is the common case;
	// remote.start < 0 then.
	xff := -1
	for i := range p.fields {
		if p.fields[i].kind == fieldForwardedFor {
			xff = i
		}
	}
	remote := span{}
	if xff >= 0 {
		x := len(p.extra)
		var ok bool
		if p.extra, ok = appendRemoteAddr(p.extra, p.bytes(msg, p.fields[xff].value)); ok {
			remote = span{^x, ^len(p.extra)}
		}
	}

	// The one string of the head. Its bytes are copied once.
	var sb strings.Builder
	sb.Grow(headLen + len(p.extra))
	sb.Write(msg[:headLen])
	sb.Write(p.extra)
	head := sb.String()

	r.Method = internMethod(method, head[:sp1])
	r.RequestURI = head[sp1+1 : sp2]
	r.Proto = internProto(proto, head[sp2+1:lineEnd])
	r.ProtoMajor, r.ProtoMinor = major, minor
	var vals []string
	if u, ok := parseOriginForm(r.RequestURI); ok && len(p.fields) < len(urlValues{}.vals) {
		uv := &urlValues{url: u}
		r.URL, vals = &uv.url, uv.vals[:]
	} else if r.URL, err = parseTarget(connect, r.RequestURI); err != nil {
		return nil, malformed(err)
	}
	return p.finish(r, msg, head, headLen, remote, vals)
}

// requestLine is the first line of a request message: "METHOD target
// HTTP/x.y", its parts as slices of the message, and where the header starts.
type requestLine struct {
	method, target, proto []byte
	sp1, sp2, lineEnd     int // offsets of the two spaces and of the line's end
	pos                   int // the first header line
	major, minor          int
	connect               bool
}

// parseRequestLine reads and checks the request line as http.ReadRequest
// does, with its errors.
func parseRequestLine(msg []byte) (rl requestLine, err error) {
	_, lineEnd, pos := nextLine(msg, 0)
	if pos < 0 {
		return rl, malformed(io.EOF) // before net/http turns EOF into ErrUnexpectedEOF
	}
	line := msg[:lineEnd]
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := -1
	if sp1 >= 0 {
		if i := bytes.IndexByte(line[sp1+1:], ' '); i >= 0 {
			sp2 = sp1 + 1 + i
		}
	}
	if sp2 < 0 {
		return rl, malformed(badStringError("malformed HTTP request", string(line)))
	}
	method, target, proto := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if !session.ValidName(method) {
		return rl, malformed(badStringError("invalid method", string(method)))
	}
	major, minor, ok := parseVersion(proto)
	if !ok {
		return rl, malformed(badStringError("malformed HTTP version", string(proto)))
	}
	return requestLine{
		method: method, target: target, proto: proto,
		sp1: sp1, sp2: sp2, lineEnd: lineEnd, pos: pos,
		major: major, minor: minor, connect: string(method) == http.MethodConnect,
	}, nil
}

// urlValues are the URL of a request and the array that its header values
// are slices of, allocated together: a common request costs one allocation
// less. Room for 11 fields and the Cache-Control that Pragma may imply.
type urlValues struct {
	url  url.URL
	vals [12]string
}

// finish does what http.ReadRequest does once it has read the header
// (Host, Pragma, Close, Transfer-Encoding and Content-Length, Trailer), then
// this package's checks, then builds r.Header and the body.
func (p *parser) finish(r *http.Request, msg []byte, head string, headLen int, remote span, vals []string) (*body, error) {
	var (
		hosts, lengths, encodings int
		host, length, encoding    string
		pragma                    string
		hasPragma, hasCache       bool
		hasTrailer, closeConn     bool
		keepAlive                 bool
		xff                       string
	)
	for _, f := range p.fields {
		if f.kind == fieldOther {
			continue
		}
		v := resolve(head, headLen, f.value)
		switch f.kind {
		case fieldHost:
			if hosts == 0 {
				host = v
			}
			hosts++
		case fieldContentLength:
			if lengths == 0 {
				length = v
			} else if trimString(v) != trimString(length) {
				lengths = -1 // conflicting values
			}
			if lengths >= 0 {
				lengths++
			}
		case fieldTransferEncoding:
			if encodings == 0 {
				encoding = v
			}
			encodings++
		case fieldConnection:
			closeConn = closeConn || headerValueContainsToken(v, "close")
			keepAlive = keepAlive || headerValueContainsToken(v, "keep-alive")
		case fieldPragma:
			if !hasPragma {
				pragma = v
			}
			hasPragma = true
		case fieldCacheControl:
			hasCache = true
		case fieldTrailer:
			hasTrailer = true
		case fieldForwardedFor:
			xff = v
		}
	}
	if hosts > 1 {
		return nil, malformed(errors.New("too many Host headers"))
	}
	r.Host = r.URL.Host
	if r.Host == "" {
		r.Host = host
	}
	addCache := pragma == "no-cache" && !hasCache
	r.Close = closeConn || r.ProtoMajor == 1 && r.ProtoMinor == 0 && !keepAlive || r.ProtoMajor < 1

	// readTransfer. The Transfer-Encoding field is removed from the header,
	// and is ignored before HTTP/1.1 (HTTP/0.0 counts as 1.1 there).
	chunked := false
	if encodings > 0 && (r.ProtoMajor > 1 || r.ProtoMajor == 1 && r.ProtoMinor >= 1 ||
		r.ProtoMajor == 0 && r.ProtoMinor == 0) {
		if encodings != 1 {
			return nil, malformed(fmt.Errorf("too many transfer encodings: %q", p.values(head, headLen, fieldTransferEncoding)))
		}
		if !asciiEqualFold(encoding, "chunked") {
			return nil, malformed(fmt.Errorf("unsupported transfer encoding: %q", encoding))
		}
		chunked = true
	}
	if lengths < 0 {
		return nil, malformed(fmt.Errorf("http: message cannot contain multiple Content-Length headers; got %q",
			p.values(head, headLen, fieldContentLength)))
	}
	contentLength := int64(0)
	if lengths > 0 {
		cl := trimString(length)
		if cl == "" {
			return nil, malformed(badStringError("invalid empty Content-Length", cl))
		}
		n, err := strconv.ParseUint(cl, 10, 63)
		if err != nil {
			return nil, malformed(badStringError("bad Content-Length", cl))
		}
		contentLength = int64(n)
	}
	if chunked && hasTrailer {
		for _, v := range p.values(head, headLen, fieldTrailer) {
			if err := checkTrailer(v); err != nil {
				return nil, malformed(err)
			}
		}
	}
	// http.ReadRequest has returned; the checks of this package.
	if r.ProtoMajor != 1 {
		return nil, errVersion
	}
	if chunked {
		return nil, errTransferEncoding
	}
	rest := msg[headLen:]
	if lengths > 0 {
		// A body of another length than announced is a framing error
		// (a smuggling shape if it were relayed), not something to guess.
		if contentLength != int64(len(rest)) {
			return nil, errBodyLength
		}
	} else {
		// mod_nano sends the client's bytes as they came: without
		// Content-Length, the body is the rest of the message.
		contentLength = int64(len(rest))
	}
	r.ContentLength = contentLength

	r.Header = p.header(head, headLen, addCache, vals)
	b := setBody(r, rest)
	if remote.start < 0 {
		r.RemoteAddr = resolve(head, headLen, remote)
	} else if xff != "" {
		r.RemoteAddr = remoteAddr([]string{xff})
	}
	return b, nil
}

// header builds the request's header: every field but Host and
// Transfer-Encoding (which http.ReadRequest removes), Content-Length once
// (it has been checked that repeated ones agree), the Cache-Control that
// "Pragma: no-cache" implies. A name's first value gets a slice of one
// shared array, vals if it is long enough, capacity 1 (so that an append
// by the handler copies), as textproto does.
func (p *parser) header(head string, headLen int, addCache bool, vals []string) http.Header {
	n := len(p.fields)
	if addCache {
		n++
	}
	h := make(http.Header, n)
	if len(vals) < n {
		vals = make([]string, n)
	}
	j := 0
	lengthDone := false
	for _, f := range p.fields {
		switch f.kind {
		case fieldHost, fieldTransferEncoding:
			continue
		case fieldContentLength:
			if lengthDone {
				continue
			}
			lengthDone = true
		}
		name, v := resolve(head, headLen, f.name), resolve(head, headLen, f.value)
		if vv, ok := h[name]; ok {
			h[name] = append(vv, v)
			continue
		}
		vals[j] = v
		h[name] = vals[j : j+1 : j+1]
		j++
	}
	if addCache {
		vals[j] = "no-cache"
		h["Cache-Control"] = vals[j : j+1 : j+1]
	}
	return h
}

// values returns the values of the fields of one kind: for error messages.
func (p *parser) values(head string, headLen int, kind fieldKind) []string {
	var vs []string
	for _, f := range p.fields {
		if f.kind == kind {
			vs = append(vs, resolve(head, headLen, f.value))
		}
	}
	return vs
}

// checkTrailer is net/http's check of a Trailer field of a chunked
// request: it may not name the framing fields.
func checkTrailer(v string) error {
	for f := range strings.SplitSeq(v, ",") {
		if f = trimString(f); f == "" {
			continue
		}
		switch key := http.CanonicalHeaderKey(f); key {
		case "Transfer-Encoding", "Trailer", "Content-Length":
			return badStringError("bad trailer key", key)
		}
	}
	return nil
}

// parseTarget parses the request target as http.ReadRequest does: a CONNECT
// target that is not a path is an authority.
func parseTarget(connect bool, target string) (*url.URL, error) {
	if u, ok := parseOriginForm(target); ok {
		return &u, nil
	}
	if !connect || strings.HasPrefix(target, "/") {
		return url.ParseRequestURI(target)
	}
	u, err := url.ParseRequestURI("http://" + target)
	if err != nil {
		return nil, err
	}
	u.Scheme = ""
	return u, nil
}

// parseOriginForm is url.ParseRequestURI for the common target: a path of
// characters that the URL keeps as they are (no escapes, so Path is the
// text and RawPath empty), then maybe a query without control characters.
// ok is false for any other target.
func parseOriginForm(target string) (u url.URL, ok bool) {
	if len(target) == 0 || target[0] != '/' {
		return u, false
	}
	i := 1
	for i < len(target) && pathChars[target[i]] {
		i++
	}
	if i == len(target) {
		return url.URL{Path: target}, true
	}
	if target[i] != '?' {
		return u, false
	}
	q := target[i+1:]
	for j := 0; j < len(q); j++ {
		if c := q[j]; c < ' ' || c == 0x7f {
			return u, false
		}
	}
	// "/p?" is a forced empty query; with more than one '?', the query is
	// what follows the first.
	return url.URL{Path: target[:i], RawQuery: q, ForceQuery: q == ""}, true
}

// pathChars are the bytes that url.URL.EscapedPath leaves as they are:
// unreserved characters and the sub-delimiters it allows in a path.
var pathChars = func() (t [256]bool) {
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~$&+,/:;=@" {
		t[c] = true
	}
	return t
}()

// parseVersion is http.ParseHTTPVersion on bytes.
func parseVersion(v []byte) (major, minor int, ok bool) {
	switch string(v) {
	case "HTTP/1.1":
		return 1, 1, true
	case "HTTP/1.0":
		return 1, 0, true
	}
	if len(v) != len("HTTP/X.Y") || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, 0, false
	}
	return int(v[5] - '0'), int(v[7] - '0'), true
}

// internMethod returns the method as a constant when it is a common one,
// else s, its substring of the head.
func internMethod(m []byte, s string) string {
	switch string(m) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPut:
		return http.MethodPut
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	case http.MethodPatch:
		return http.MethodPatch
	}
	return s
}

func internProto(p []byte, s string) string {
	switch string(p) {
	case "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/1.0":
		return "HTTP/1.0"
	}
	return s
}

func malformed(err error) error {
	return fmt.Errorf("worker: malformed request message: %w", err)
}

// badStringError is net/http's error for a bad part of a request.
func badStringError(what, val string) error { return fmt.Errorf("%s %q", what, val) }

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
