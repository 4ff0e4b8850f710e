package blastbeat

import (
	"bytes"
	"errors"

	"github.com/nanogate/nanogate/protocol/uwsgi"
)

// Packet is how a request reaches a dealer.
type Packet uint8

const (
	// Uwsgi sends the request head as a uwsgi packet in a "uwsgi"
	// message: what BlastBeat always does, and what its dealers decode.
	Uwsgi Packet = iota
	// Headers sends the raw HTTP/1.1 request head in a "headers"
	// message, for dealers that would rather parse HTTP.
	Headers
)

// errHead: the front end's request head is not one (never for a head the
// front end made; a guard, not a path).
var errHead = errors.New("blastbeat: request head is not HTTP")

// inboundHeader is nanogate's own header naming the SP inbound address;
// it means nothing to a dealer, which answers on its DEALER socket.
var inboundHeader = []byte("x-nanogate-inbound")

// appendUwsgi appends the uwsgi packet of head, a request head as the
// front end encodes it (request line, header lines, CRLF; the target as
// the client sent it), with the variables BlastBeat's src/uwsgi.c sets:
// REQUEST_METHOD, SCRIPT_NAME (empty), PATH_INFO and QUERY_STRING (raw,
// not percent-decoded), CONTENT_TYPE and CONTENT_LENGTH when present,
// SERVER_NAME and SERVER_PORT from the virtual host's name (80 without a
// port), SERVER_PROTOCOL, REMOTE_ADDR (the last X-Forwarded-For entry, the
// client's address as the gateway saw it) and HTTP_* for every header.
// REMOTE_PORT is not known here and not sent. dst is returned unchanged
// with an error when the head is not HTTP or the packet would pass 64 KiB.
func appendUwsgi(dst, head []byte, serverName, serverPort string) ([]byte, error) {
	line, rest, ok := cutLine(head)
	if !ok {
		return dst, errHead
	}
	method, line, _ := bytes.Cut(line, []byte(" "))
	target, proto, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(method) == 0 {
		return dst, errHead
	}
	path, query, _ := bytes.Cut(target, []byte("?"))
	var w uwsgi.Writer
	w.Reset(dst)
	w.Var("REQUEST_METHOD", method)
	w.Var("SCRIPT_NAME", nil)
	w.Var("PATH_INFO", path)
	w.Var("QUERY_STRING", query)
	if v := headerValue(rest, "content-type"); v != nil {
		w.Var("CONTENT_TYPE", v)
	}
	if v := headerValue(rest, "content-length"); v != nil {
		w.Var("CONTENT_LENGTH", v)
	}
	w.VarString("SERVER_NAME", serverName)
	w.VarString("SERVER_PORT", serverPort)
	w.Var("SERVER_PROTOCOL", proto)
	if xff := headerValue(rest, "x-forwarded-for"); xff != nil {
		if i := bytes.LastIndexByte(xff, ','); i >= 0 {
			xff = xff[i+1:]
		}
		w.Var("REMOTE_ADDR", bytes.TrimSpace(xff))
	}
	for {
		var hl []byte
		if hl, rest, ok = cutLine(rest); !ok {
			return dst, errHead
		}
		if len(hl) == 0 {
			break
		}
		name, val, found := bytes.Cut(hl, []byte(":"))
		if !found {
			return dst, errHead
		}
		if bytes.EqualFold(name, inboundHeader) {
			continue
		}
		w.Header(name, bytes.TrimLeft(val, " \t"))
	}
	return w.Finish()
}

// appendHeaders appends head without nanogate's X-Nanogate-Inbound line,
// for a route whose dealers take the raw HTTP head.
func appendHeaders(dst, head []byte) []byte {
	for len(head) > 0 {
		line, rest, ok := cutLine(head)
		if !ok {
			return append(dst, head...)
		}
		n := len(head) - len(rest)
		if name, _, found := bytes.Cut(line, []byte(":")); !found || !bytes.EqualFold(name, inboundHeader) {
			dst = append(dst, head[:n]...)
		}
		head = rest
	}
	return dst
}

// cutLine splits b at its first CRLF (or LF).
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, b, false
	}
	line = b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, b[i+1:], true
}

// headerValue returns the value of the first header named name (lower
// case) in the header lines of hs, or nil.
func headerValue(hs []byte, name string) []byte {
	for {
		line, rest, ok := cutLine(hs)
		if !ok || len(line) == 0 {
			return nil
		}
		if k, v, found := bytes.Cut(line, []byte(":")); found && len(k) == len(name) && bytes.EqualFold(k, []byte(name)) {
			return bytes.TrimLeft(v, " \t")
		}
		hs = rest
	}
}

// splitVhost splits a BlastBeat virtual host name ("localhost:8080") into
// SERVER_NAME and SERVER_PORT, 80 without a port, as src/uwsgi.c does.
func splitVhost(name string) (host, port string) {
	if i := bytes.LastIndexByte([]byte(name), ':'); i >= 0 && name[len(name)-1] != ']' {
		return name[:i], name[i+1:]
	}
	return name, "80"
}
