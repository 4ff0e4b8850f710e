// Package session is the contract between the gateway and its workers: the
// session and request identifiers, and the message formats, encoded and
// decoded without I/O. The gateway and every SDK share it, so its byte
// layout is versioned and documented in docs/PROTOCOL.md, with golden
// vectors under testdata/.
//
// # The http format (version 1, mod_nano compatible)
//
// A request is one message that reads like HTTP/1.1 on the wire:
//
//	request-line CRLF            as the client sent it: "GET /a?b HTTP/1.1"
//	*( header-line CRLF )        the client's header lines, in its order
//	[ Content-Length: N CRLF ]   when there is a body or the client framed one
//	[ X-Forwarded-For: ... CRLF ]      these four unless forwarding is off
//	[ X-Forwarded-Proto: http CRLF ]   (compat = "mod_nano")
//	[ X-Request-Id: ... CRLF ]
//	[ X-Nanogate-Session: 32HEX CRLF ]
//	CRLF
//	body                         N bytes, de-chunked, binary safe
//
// The client's Content-Length and Transfer-Encoding lines are dropped (the
// body is re-framed), and so are the client's own X-Forwarded-Proto,
// X-Request-Id and X-Nanogate-Session lines, so that a client cannot spoof
// them; a client's X-Forwarded-For is kept and the client's address is
// appended to it, as net/http/httputil.ReverseProxy does.
//
// A reply is one complete HTTP/1.1 or HTTP/1.0 response. Content-Length is
// optional: without it the body is the rest of the message (mod_nano's own
// workers send none). A chunked reply is de-chunked in place. Header lines
// are kept in order, repeated ones (Set-Cookie) included.
//
// Ownership: every function appends to or reads from caller-owned buffers;
// returned slices alias the buffers they were given, never new memory.
package session
