// Package uwsgi is the uwsgi packet as BlastBeat sends a request to its
// dealers (BlastBeat's src/uwsgi.c): a WSGI/PSGI/Rack environ as key/value
// pairs. It is pure: no I/O, no goroutines.
//
// # Layout
//
//	packet   = modifier1 size modifier2 *var
//	modifier1 = %x00
//	size     = 2OCTET      ; u16 little-endian: the WHOLE packet, these 4 bytes included
//	modifier2 = %x00
//	var      = keylen key vallen val
//	keylen   = 2OCTET      ; u16 little-endian
//	vallen   = 2OCTET      ; u16 little-endian
//
// BlastBeat's size counts the 4 header bytes, unlike standard uwsgi (whose
// size is the variable block alone): the decoder in BlastBeat's README,
// uwsgi_to_dict, starts at offset 4 and loops while pos < size, which only
// reads the whole block when the header is counted. So a packet is at most
// 65535 bytes (BlastBeat checks 65536, which would wrap the u16 to 0).
//
// Example: a packet with the one variable REQUEST_METHOD=GET is
//
//	00 19 00 00  0e 00 "REQUEST_METHOD" 03 00 "GET"     (25 bytes)
//
// Golden vectors are in testdata/ (*.uwsgi, listed in vectors.json).
package uwsgi

import "encoding/binary"

// HeaderLen is the length of the packet header (modifier1, size, modifier2).
const HeaderLen = 4

// MaxPacket is the largest packet: its size field is a u16 counting itself.
const MaxPacket = 0xffff

// Error is the type of this package's errors.
type Error string

func (e Error) Error() string { return string(e) }

const (
	// ErrTooLarge: the variables do not fit in MaxPacket bytes.
	ErrTooLarge = Error("uwsgi: packet over 65535 bytes")
	// ErrShort: fewer than the 4 header bytes.
	ErrShort = Error("uwsgi: packet shorter than its 4-byte header")
	// ErrSize: the size field is not the packet's length.
	ErrSize = Error("uwsgi: size field does not match the packet length")
	// ErrModifier: modifier1 or modifier2 is not 0 (not a request environ).
	ErrModifier = Error("uwsgi: modifiers are not 0")
	// ErrTruncated: a key or value runs past the end of the packet.
	ErrTruncated = Error("uwsgi: variable runs past the end of the packet")
)

// Writer appends one packet to a caller-owned buffer. Its zero value is
// not ready: call Reset. Nothing allocates while the buffer has room.
type Writer struct {
	b     []byte
	start int
	err   error
}

// Reset starts a packet at the end of dst; the packet is appended there.
func (w *Writer) Reset(dst []byte) {
	w.start = len(dst)
	w.b = append(dst, 0, 0, 0, 0)
	w.err = nil
}

// Var appends the variable key=val.
func (w *Writer) Var(key string, val []byte) {
	if !w.room(len(key), len(val)) {
		return
	}
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(len(key)))
	w.b = append(w.b, key...)
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(len(val)))
	w.b = append(w.b, val...)
}

// VarString is Var with a string value.
func (w *Writer) VarString(key, val string) {
	if !w.room(len(key), len(val)) {
		return
	}
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(len(key)))
	w.b = append(w.b, key...)
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(len(val)))
	w.b = append(w.b, val...)
}

// Header appends a request header as CGI names it: HTTP_ and the name in
// upper case with '-' as '_' (Content-Type is HTTP_CONTENT_TYPE), as
// BlastBeat does for every request header.
func (w *Writer) Header(name, val []byte) {
	if !w.room(5+len(name), len(val)) {
		return
	}
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(5+len(name)))
	w.b = append(w.b, "HTTP_"...)
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c == '-':
			c = '_'
		}
		w.b = append(w.b, c)
	}
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(len(val)))
	w.b = append(w.b, val...)
}

func (w *Writer) room(k, v int) bool {
	if w.err != nil {
		return false
	}
	if len(w.b)-w.start+4+k+v > MaxPacket {
		w.err = ErrTooLarge
		return false
	}
	return true
}

// Finish writes the size and returns the buffer with the packet appended
// (it aliases the dst given to Reset when that had room), or ErrTooLarge.
func (w *Writer) Finish() ([]byte, error) {
	if w.err != nil {
		return w.b[:w.start], w.err
	}
	binary.LittleEndian.PutUint16(w.b[w.start+1:], uint16(len(w.b)-w.start))
	return w.b, nil
}

// Each checks pkt and calls f with every variable in order; key and val
// alias pkt. Nothing is called unless the whole packet is well formed.
func Each(pkt []byte, f func(key, val []byte)) error {
	if err := Check(pkt); err != nil {
		return err
	}
	for pos := HeaderLen; pos < len(pkt); {
		kl := int(binary.LittleEndian.Uint16(pkt[pos:]))
		key := pkt[pos+2 : pos+2+kl]
		pos += 2 + kl
		vl := int(binary.LittleEndian.Uint16(pkt[pos:]))
		f(key, pkt[pos+2:pos+2+vl])
		pos += 2 + vl
	}
	return nil
}

// Check reports whether pkt is one well-formed packet, exactly.
func Check(pkt []byte) error {
	if len(pkt) < HeaderLen {
		return ErrShort
	}
	if pkt[0] != 0 || pkt[3] != 0 {
		return ErrModifier
	}
	if int(binary.LittleEndian.Uint16(pkt[1:])) != len(pkt) {
		return ErrSize
	}
	for pos := HeaderLen; pos < len(pkt); {
		for range 2 { // the key, then the value
			if len(pkt)-pos < 2 {
				return ErrTruncated
			}
			n := int(binary.LittleEndian.Uint16(pkt[pos:]))
			if len(pkt)-pos-2 < n {
				return ErrTruncated
			}
			pos += 2 + n
		}
	}
	return nil
}

// Get returns the value of the first variable named key, for tests and
// tools; ok is false when pkt is malformed or has no such variable.
func Get(pkt []byte, key string) (val []byte, ok bool) {
	Each(pkt, func(k, v []byte) {
		if !ok && string(k) == key {
			val, ok = v, true
		}
	})
	return val, ok
}
