// Package frames is the session frame format: the messages that carry a
// session which outlives one reply (a streamed response, a streamed upload,
// a WebSocket, a push to a client by its session id) between the gateway
// and workers or any other process. It is pure: no I/O, no goroutines.
//
// # Layout
//
// One frame is one nanomsg message:
//
//	frame  = sid SP type SP stream LF body
//	sid    = 32 lower-case hex digits   ; the session id (X-Nanogate-Session)
//	type   = 1*16( %x61-7A / "-" )      ; a word below
//	stream = 1*10DIGIT                  ; the request within the session, 1 first; 0 in a push: the current one
//	body   = *OCTET                     ; to the end of the message, binary safe
//
// Example, the first piece of a streamed reply to the session's third
// request:
//
//	0123456789abcdeffedcba9876543210 body 3\nhello
//
// A text header keeps the format within reach of any language with a
// nanomsg binding, and of the shell (nanocat --push --data), at a cost that
// does not show next to the system calls that carry it: Parse takes about
// 35 ns (BenchmarkParse).
//
// BlastBeat's (sid, type, body) maps onto it one to one: its types keep
// their names (headers, body, chunk, end, ping, pong, retry; its websocket
// is text), and stream is what ZHTTP's per-request id adds. ZHTTP's credits,
// cancel and close are the credit, end and close types. docs/PROTOCOL.md
// gives the meaning of each type; golden vectors are in testdata/.
package frames

import (
	"bytes"
	"encoding/hex"
	"strconv"
)

// Type names what a frame carries.
type Type uint8

// The types. The zero Type is invalid.
const (
	_ Type = iota

	// Gateway to worker.
	Request // the request head (request line, headers, CRLF); the body follows in Body frames

	// Both directions.
	Body     // a piece of the body; gateway to worker, an empty one ends the request body
	End      // gateway to worker: the client is gone or the stream is over; worker to gateway: the response is complete
	Credit   // body bytes the sender may now send beyond its window (decimal)
	WSText   // one WebSocket text message (BlastBeat's "websocket")
	WSBinary // one WebSocket binary message
	WSClose  // WebSocket close: decimal code, then SP and a reason, or empty
	Ping     // liveness; answered with Pong
	Pong

	// Worker to gateway.
	Headers // a raw HTTP/1.1 response head, optionally followed by the first piece of the body
	Chunk   // as Body; an empty Chunk ends the response (BlastBeat)
	Close   // close the client's connection once what is queued is written
	Retry   // give the request to another worker (BlastBeat); only before Headers

	numTypes
)

var names = [numTypes]string{
	Request: "request", Body: "body", End: "end", Credit: "credit",
	WSText: "websocket", WSBinary: "websocket-binary", WSClose: "websocket-close",
	Ping: "ping", Pong: "pong", Headers: "headers", Chunk: "chunk", Close: "close", Retry: "retry",
}

func (t Type) String() string {
	if t == 0 || t >= numTypes {
		return "invalid"
	}
	return names[t]
}

// TypeOf returns the Type named by name, or 0.
func TypeOf(name []byte) Type {
	for t := Type(1); t < numTypes; t++ {
		if string(name) == names[t] {
			return t
		}
	}
	return 0
}

// SIDLen is the length of a session id on the wire (hex).
const SIDLen = 32

// Frame is one parsed frame. Body aliases the parsed message.
type Frame struct {
	SID    [16]byte
	Type   Type
	Stream uint32
	Body   []byte
}

// Error is the type of this package's errors.
type Error string

func (e Error) Error() string { return string(e) }

const (
	ErrShort     = Error("frames: message shorter than a frame header")
	ErrSID       = Error("frames: session id is not 32 lower-case hex digits")
	ErrType      = Error("frames: unknown frame type")
	ErrStream    = Error("frames: stream is not a decimal number below 2^32")
	ErrSeparator = Error("frames: header fields not separated by SP, SP, LF")
)

// Append appends a frame to dst and returns the result, which aliases dst
// when it has room.
func Append(dst []byte, sid [16]byte, t Type, stream uint32, body []byte) []byte {
	dst = AppendHeader(dst, sid, t, stream)
	return append(dst, body...)
}

// AppendHeader appends the frame header (everything before the body).
func AppendHeader(dst []byte, sid [16]byte, t Type, stream uint32) []byte {
	dst = hex.AppendEncode(dst, sid[:])
	dst = append(dst, ' ')
	dst = append(dst, t.String()...)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(stream), 10)
	return append(dst, '\n')
}

// ParseSID reads a session id as frames carry it (and X-Nanogate-Session
// shows it): SIDLen lower-case hex digits, nothing else.
func ParseSID(b []byte) (sid [16]byte, err error) {
	if len(b) != SIDLen {
		return sid, ErrSID
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return sid, ErrSID
		}
	}
	hex.Decode(sid[:], b)
	return sid, nil
}

// Parse reads one frame. f.Body aliases msg.
func Parse(msg []byte) (f Frame, err error) {
	if len(msg) < SIDLen+5 {
		return f, ErrShort
	}
	if msg[SIDLen] != ' ' {
		return f, ErrSeparator
	}
	if f.SID, err = ParseSID(msg[:SIDLen]); err != nil {
		return f, err
	}
	rest := msg[SIDLen+1:]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 || sp > 16 {
		return f, ErrSeparator
	}
	if f.Type = TypeOf(rest[:sp]); f.Type == 0 {
		return f, ErrType
	}
	rest = rest[sp+1:]
	var n uint64
	i := 0
	for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
		n = n*10 + uint64(rest[i]-'0')
		if i >= 10 || n > 1<<32-1 {
			return f, ErrStream
		}
	}
	if i == 0 {
		return f, ErrStream
	}
	if i == len(rest) || rest[i] != '\n' {
		return f, ErrSeparator
	}
	f.Stream = uint32(n)
	f.Body = rest[i+1:]
	return f, nil
}

// ParseCredit reads the body of a Credit frame.
func ParseCredit(body []byte) (int, bool) {
	if len(body) == 0 || len(body) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range body {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// AppendClose appends the body of a WSClose frame: the code, then SP and
// the reason when there is one.
func AppendClose(dst []byte, code int, reason string) []byte {
	dst = strconv.AppendInt(dst, int64(code), 10)
	if reason != "" {
		dst = append(dst, ' ')
		dst = append(dst, reason...)
	}
	return dst
}

// ParseClose reads the body of a WSClose frame. An empty body is code 1000
// (normal closure) with no reason.
func ParseClose(body []byte) (code int, reason []byte, ok bool) {
	if len(body) == 0 {
		return 1000, nil, true
	}
	num, reason, _ := bytes.Cut(body, []byte(" "))
	if len(num) == 0 || len(num) > 4 {
		return 0, nil, false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, nil, false
		}
		code = code*10 + int(c-'0')
	}
	return code, reason, true
}

// Window is the body bytes a worker may send on a stream before the
// gateway grants credit: response body bytes and WebSocket message bytes.
// It is also what the gateway holds at most for one stream. At 256 KiB a
// streamed download waited on credit, at 0.21 of net/http's speed; at
// 1 MiB it reached 0.46-0.48 (bench/harness --scenario stream); its cost is
// a slow client's buffer, at most 1 MiB per stream.
// The other way, the gateway relies on the transport's back-pressure
// (docs/PROTOCOL.md, flow control).
const Window = 1 << 20
