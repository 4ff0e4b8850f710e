package session

import (
	"encoding/binary"
	"encoding/hex"
	"hash/maphash"
)

// ID identifies a session (one client TCP connection, as in BlastBeat) or
// one request. It travels as 32 lower-case hex digits.
type ID [16]byte

// AppendHex appends the 32 hex digits of id to dst; the result aliases dst.
func (id ID) AppendHex(dst []byte) []byte {
	return hex.AppendEncode(dst, id[:])
}

// String returns the hex form, for logs.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IDGen derives IDs from counters the front end already has (a connection
// number, a request number) with a keyed hash seeded at random per process.
// Deriving instead of drawing means no per-connection state, no lock and no
// allocation, and the same connection always maps to the same session id.
// The zero value is not usable; call NewIDGen.
type IDGen struct {
	lo, hi maphash.Seed
}

// NewIDGen returns a generator with fresh random seeds.
func NewIDGen() *IDGen {
	return &IDGen{lo: maphash.MakeSeed(), hi: maphash.MakeSeed()}
}

// Make returns the ID for the pair (a, b). Distinct pairs collide with
// probability about 2^-128 for two independent 64-bit halves.
func (g *IDGen) Make(a, b uint64) ID {
	var id ID
	in := [2]uint64{a, b}
	binary.BigEndian.PutUint64(id[:8], maphash.Comparable(g.lo, in))
	binary.BigEndian.PutUint64(id[8:], maphash.Comparable(g.hi, in))
	return id
}
