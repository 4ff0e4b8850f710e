// Package zhttp is the ZHTTP packet (rfc.zeromq.org spec 33, as Condure
// speaks it: src/zhttppacket.rs): parsing and writing packets, and the
// mapping between a packet and nanogate's HTTP heads (http.go). It is pure:
// no I/O, no goroutines; the transport is package zhttp under gateway/.
//
// # Layout
//
// A packet is the byte 'T' and one tnetstring dictionary (package
// tnetstring). In stream mode a handler's packet to the gateway is
// prefixed with the gateway's instance id and a space, and the gateway's
// later packets to a handler travel on a ROUTER, addressed to the
// handler's "from". Fields (absent ones keep their zero):
//
//	from      initiator's or responder's address (string)
//	id        the request id (string), or with ext.multi a list of
//	          {id, seq} dictionaries (at most MaxIDs)
//	seq       the sender's sequence number on this id, from 0 (integer)
//	type      absent for data; error, credit, keep-alive, cancel,
//	          handoff-start, handoff-proceed, close, ping, pong
//	condition error condition (with type error)
//	credits   body bytes the peer may now send (integer)
//	more      more data packets follow (boolean); absent: the last one
//	stream    the initiator wants stream mode (first packet only)
//	method, uri, headers ([[name, value], ...]), body, peer-address,
//	peer-port                     request (first packet)
//	code, reason, headers, body   response (first packet)
//	user-data any value, echoed back
//
// Example, the first packet of a stream-mode request
// (testdata/stream-request.tnet, built by testdata/packets.py):
//
//	T176:4:from,2:gw,2:id,1:7,3:seq,1:0#3:ext,15:5:multi,4:true!}6:method,3:GET,...}
package zhttp

import (
	"strconv"

	"github.com/nanogate/nanogate/protocol/tnetstring"
)

// Type is a packet's type; the zero Type is data.
type Type uint8

// The packet types of spec 33 and Condure.
const (
	Data Type = iota
	Error
	Credit
	KeepAlive
	Cancel
	HandoffStart
	HandoffProceed
	Close // WebSocket close
	Ping
	Pong
	numTypes
)

var typeNames = [numTypes]string{
	Data: "", Error: "error", Credit: "credit", KeepAlive: "keep-alive", Cancel: "cancel",
	HandoffStart: "handoff-start", HandoffProceed: "handoff-proceed", Close: "close", Ping: "ping", Pong: "pong",
}

func (t Type) String() string {
	if t == Data {
		return "data"
	}
	if t >= numTypes {
		return "invalid"
	}
	return typeNames[t]
}

// Bounds on what one packet may carry. MaxIDs is Condure's IDS_MAX;
// MaxHeaders is twice Condure's 64, since a client's request may carry
// more than a handler's response.
const (
	MaxIDs     = 128
	MaxHeaders = 128
)

// ParseError is the type of this package's errors.
type ParseError string

func (e ParseError) Error() string { return "zhttp: " + string(e) }

// Errors from Parse and the head mapping.
const (
	ErrNotT        = ParseError("packet does not start with T (only the tnetstring form is spoken)")
	ErrNotDict     = ParseError("packet is not a dictionary")
	ErrNoID        = ParseError("packet has no id")
	ErrTooManyIDs  = ParseError("more than 128 ids in one packet")
	ErrTooManyHdrs = ParseError("more than 128 headers")
	ErrBadHeader   = ParseError("header item is not a [name, value] pair of strings")
	ErrUnknownType = ParseError("unknown packet type")
	ErrBadField    = ParseError("field of the wrong type")
	ErrNegative    = ParseError("negative number")
	ErrBadStatus   = ParseError("status code out of 100..999")
	ErrHeaderName  = ParseError("header name is not a token")
	ErrHeaderValue = ParseError("header value holds CR, LF or NUL")
	ErrReason      = ParseError("reason holds CR, LF or NUL")
	ErrRequestHead = ParseError("request head is not HTTP/1.x")
	ErrNoCode      = ParseError("first response packet has no code")
	ErrTooLarge    = ParseError("number too large")
)

// Largest numbers read: credits and sizes fit an int32 as in Condure (u32
// there), sequence numbers a uint32.
const (
	maxCredits = 1<<31 - 1
	maxSeq     = 1<<32 - 1
)

// FieldError names the field that failed.
type FieldError struct {
	Field string
	Err   error
}

func (e FieldError) Error() string { return "zhttp: " + "field " + e.Field + ": " + e.Err.Error() }
func (e FieldError) Unwrap() error { return e.Err }

// ID is one id a packet addresses, with its sequence number (-1: absent).
type ID struct {
	ID  []byte
	Seq int64
}

// Header is one header line; both alias the parsed packet.
type Header struct {
	Name, Value []byte
}

// Packet is one ZHTTP packet of either direction. Parse fills it with
// slices of the parsed message (valid while that message is); Append
// writes it. IDs and Headers are reused across Parse calls.
type Packet struct {
	From      []byte
	IDs       []ID // at least one after Parse
	Multi     bool // ext.multi: the sender accepts id lists
	Type      Type
	Condition []byte
	Credits   int64 // zero: none
	More      bool
	Stream    bool
	MaxSize   int64
	Timeout   int64

	Method, URI []byte // first request packet
	Code        int    // first response packet; zero: absent
	Reason      []byte
	Headers     []Header
	HasHeaders  bool // headers present (even an empty list)
	Body        []byte
	ContentType []byte // WebSocket messages: text or binary

	PeerAddress []byte
	PeerPort    int64
	UserData    tnetstring.Value // zero Tag: absent; echoed as it came
}

// Reset clears p, keeping the capacity of IDs and Headers.
func (p *Packet) Reset() {
	ids, hs := p.IDs[:0], p.Headers[:0]
	*p = Packet{IDs: ids, Headers: hs}
}

// Parse reads msg ('T' and a tnetstring dictionary) into p. Unknown fields
// are skipped, as Condure does.
func Parse(msg []byte, p *Packet) error {
	p.Reset()
	if len(msg) == 0 || msg[0] != 'T' {
		return ErrNotT
	}
	root, err := tnetstring.ParseAll(msg[1:])
	if err != nil {
		return err
	}
	if root.Tag != tnetstring.Dict {
		return ErrNotDict
	}
	it := root.Items()
	seq := int64(-1)
	for k, v, ok := it.Pair(); ok; k, v, ok = it.Pair() {
		if err := p.field(string(k), v, &seq); err != nil {
			return FieldError{string(k), err}
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	if len(p.IDs) == 0 {
		return ErrNoID
	}
	if seq >= 0 && len(p.IDs) == 1 {
		p.IDs[0].Seq = seq
	}
	return nil
}

// field reads one field; string(k) in the switch does not allocate.
func (p *Packet) field(k string, v tnetstring.Value, seq *int64) (err error) {
	switch k {
	case "from":
		p.From, err = v.Str()
	case "id":
		return p.parseIDs(v)
	case "seq":
		*seq, err = uintField(v, maxSeq)
	case "type":
		var s []byte
		if s, err = v.Str(); err == nil {
			p.Type, err = ParseType(s)
		}
	case "condition":
		p.Condition, err = v.Str()
	case "credits":
		p.Credits, err = uintField(v, maxCredits)
	case "more":
		p.More, err = v.Bool()
	case "stream":
		p.Stream, err = v.Bool()
	case "max-size":
		p.MaxSize, err = uintField(v, maxCredits)
	case "timeout":
		p.Timeout, err = uintField(v, maxCredits)
	case "ext":
		return p.parseExt(v)
	case "method":
		p.Method, err = v.Str()
	case "uri":
		p.URI, err = v.Str()
	case "code":
		var c int64
		c, err = uintField(v, 999)
		p.Code = int(c)
	case "reason":
		p.Reason, err = v.Str()
	case "headers":
		return p.parseHeaders(v)
	case "body":
		p.Body, err = v.Str()
	case "content-type":
		p.ContentType, err = v.Str()
	case "peer-address":
		p.PeerAddress, err = v.Str()
	case "peer-port":
		p.PeerPort, err = uintField(v, 65535)
	case "user-data":
		p.UserData = v
	}
	return err
}

func uintField(v tnetstring.Value, max int64) (int64, error) {
	n, err := v.Int()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, ErrNegative
	}
	if n > max {
		return 0, ErrTooLarge
	}
	return n, nil
}

func (p *Packet) parseIDs(v tnetstring.Value) error {
	if v.Tag == tnetstring.String {
		p.IDs = append(p.IDs[:0], ID{ID: v.Data, Seq: -1})
		return nil
	}
	if v.Tag != tnetstring.List {
		return ErrBadField
	}
	p.IDs = p.IDs[:0]
	it := v.Items()
	for e, ok := it.Next(); ok; e, ok = it.Next() {
		if len(p.IDs) == MaxIDs {
			return ErrTooManyIDs
		}
		id := ID{Seq: -1}
		if e.Tag != tnetstring.Dict {
			return ErrBadField
		}
		m := e.Items()
		for k, x, ok := m.Pair(); ok; k, x, ok = m.Pair() {
			var err error
			switch string(k) {
			case "id":
				id.ID, err = x.Str()
			case "seq":
				id.Seq, err = uintField(x, maxSeq)
			}
			if err != nil {
				return err
			}
		}
		if err := m.Err(); err != nil {
			return err
		}
		p.IDs = append(p.IDs, id)
	}
	return it.Err()
}

func (p *Packet) parseExt(v tnetstring.Value) error {
	if v.Tag != tnetstring.Dict {
		return ErrBadField
	}
	it := v.Items()
	for k, x, ok := it.Pair(); ok; k, x, ok = it.Pair() {
		if string(k) == "multi" {
			var err error
			if p.Multi, err = x.Bool(); err != nil {
				return err
			}
		}
	}
	return it.Err()
}

func (p *Packet) parseHeaders(v tnetstring.Value) error {
	if v.Tag != tnetstring.List {
		return ErrBadField
	}
	p.HasHeaders = true
	it := v.Items()
	for e, ok := it.Next(); ok; e, ok = it.Next() {
		if len(p.Headers) == MaxHeaders {
			return ErrTooManyHdrs
		}
		if e.Tag != tnetstring.List {
			return ErrBadHeader
		}
		pair := e.Items()
		n, ok1 := pair.Next()
		val, ok2 := pair.Next()
		_, extra := pair.Next()
		if !ok1 || !ok2 || extra || n.Tag != tnetstring.String || val.Tag != tnetstring.String {
			return ErrBadHeader
		}
		p.Headers = append(p.Headers, Header{Name: n.Data, Value: val.Data})
	}
	return it.Err()
}

// ParseType reads a type field.
func ParseType(s []byte) (Type, error) {
	for t := Error; t < numTypes; t++ {
		if string(s) == typeNames[t] {
			return t, nil
		}
	}
	if len(s) == 0 {
		return Data, nil
	}
	return 0, ErrUnknownType
}

// Append writes p as a packet ('T' and a dictionary) to dst. Zero fields
// are left out; a Seq of -1 is left out; more than one id is written as
// a list.
func Append(dst []byte, p *Packet) []byte {
	dst = append(dst, 'T')
	dst, m := tnetstring.Open(dst)
	str := func(k string, v []byte) {
		if len(v) > 0 {
			dst = tnetstring.AppendStr(dst, k)
			dst = tnetstring.AppendString(dst, v)
		}
	}
	num := func(k string, n int64) {
		if n > 0 {
			dst = tnetstring.AppendStr(dst, k)
			dst = tnetstring.AppendInt(dst, n)
		}
	}
	flag := func(k string, b bool) {
		if b {
			dst = tnetstring.AppendStr(dst, k)
			dst = tnetstring.AppendBool(dst, true)
		}
	}
	str("from", p.From)
	switch len(p.IDs) {
	case 0:
	case 1:
		str("id", p.IDs[0].ID)
		if p.IDs[0].Seq >= 0 {
			dst = tnetstring.AppendStr(dst, "seq")
			dst = tnetstring.AppendInt(dst, p.IDs[0].Seq)
		}
	default:
		dst = tnetstring.AppendStr(dst, "id")
		var l int
		dst, l = tnetstring.Open(dst)
		for _, id := range p.IDs {
			var d int
			dst, d = tnetstring.Open(dst)
			dst = tnetstring.AppendStr(dst, "id")
			dst = tnetstring.AppendString(dst, id.ID)
			if id.Seq >= 0 {
				dst = tnetstring.AppendStr(dst, "seq")
				dst = tnetstring.AppendInt(dst, id.Seq)
			}
			dst = tnetstring.Close(dst, d, tnetstring.Dict)
		}
		dst = tnetstring.Close(dst, l, tnetstring.List)
	}
	if p.Multi {
		dst = append(dst, "3:ext,15:5:multi,4:true!}"...)
	}
	if p.Type != Data && p.Type < numTypes {
		str("type", []byte(typeNames[p.Type]))
	}
	str("condition", p.Condition)
	str("method", p.Method)
	str("uri", p.URI)
	if p.Code > 0 {
		dst = tnetstring.AppendStr(dst, "code")
		dst = tnetstring.AppendInt(dst, int64(p.Code))
	}
	str("reason", p.Reason)
	if p.HasHeaders || len(p.Headers) > 0 {
		dst = tnetstring.AppendStr(dst, "headers")
		var l int
		dst, l = tnetstring.Open(dst)
		for _, h := range p.Headers {
			var e int
			dst, e = tnetstring.Open(dst)
			dst = tnetstring.AppendString(dst, h.Name)
			dst = tnetstring.AppendString(dst, h.Value)
			dst = tnetstring.Close(dst, e, tnetstring.List)
		}
		dst = tnetstring.Close(dst, l, tnetstring.List)
	}
	str("content-type", p.ContentType)
	str("body", p.Body)
	num("credits", p.Credits)
	flag("more", p.More)
	flag("stream", p.Stream)
	num("max-size", p.MaxSize)
	num("timeout", p.Timeout)
	str("peer-address", p.PeerAddress)
	num("peer-port", p.PeerPort)
	if p.UserData.Tag != 0 {
		dst = tnetstring.AppendStr(dst, "user-data")
		dst = appendValue(dst, p.UserData)
	}
	return tnetstring.Close(dst, m, tnetstring.Dict)
}

// appendValue writes a parsed value back as it came.
func appendValue(dst []byte, v tnetstring.Value) []byte {
	dst = strconv.AppendInt(dst, int64(len(v.Data)), 10)
	dst = append(dst, ':')
	dst = append(dst, v.Data...)
	return append(dst, v.Tag)
}
