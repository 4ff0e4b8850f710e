// Package tnetstring reads and writes tnetstrings, the encoding of ZHTTP
// packets (rfc.zeromq.org spec 33; Condure's src/tnetstring.rs). It is
// pure: no I/O, no goroutines.
//
// # Layout
//
// A value is its length in decimal, a colon, that many bytes of data, and
// a one-byte type tag:
//
//	value = length ":" data tag
//	length = 1*9DIGIT                 ; no sign; leading zeros accepted, as Python's reader does
//	tag    = "," / "#" / "^" / "!" / "~" / "}" / "]"
//
//	5:hello,      string (bytes, binary safe)
//	3:-12#        integer (decimal, optional minus sign)
//	4:true!       boolean (true or false)
//	0:~           null
//	3:1.5^        float
//	16:1:a,5:hello,}   dictionary: key value key value ..., keys are strings
//	8:1:1#1:2#]   list
//
// Reading is zero-copy: a Value aliases the buffer it was parsed from, and
// Next and Pair walk a container without allocating. Writing is
// append-style: the caller's buffer grows and is returned.
package tnetstring

import (
	"strconv"
)

// Error is the type of this package's errors.
type Error string

func (e Error) Error() string { return "tnetstring: " + string(e) }

// Errors returned by Parse and the accessors.
const (
	ErrShort    = Error("truncated value")
	ErrLength   = Error("bad length prefix")
	ErrTag      = Error("unknown type tag")
	ErrType     = Error("value of another type")
	ErrInt      = Error("bad integer")
	ErrBool     = Error("bad boolean")
	ErrNull     = Error("null with data")
	ErrKey      = Error("dictionary key is not a string")
	ErrOddDict  = Error("dictionary key without a value")
	ErrTooDeep  = Error("nesting deeper than MaxDepth")
	ErrTrailing = Error("bytes after the value")
	ErrIntRange = Error("integer out of range")
	ErrTooLong  = Error("length over MaxLength")
	ErrFloat    = Error("bad float")
)

// The type tags.
const (
	String = ','
	Int    = '#'
	Float  = '^'
	Bool   = '!'
	Null   = '~'
	Dict   = '}'
	List   = ']'
)

// MaxLength is the largest data length read: nine digits, as the
// tnetstring specification allows.
const MaxLength = 999_999_999

// MaxDepth bounds the nesting that Check follows, so that a hostile
// "1:[1:[1:[..." cannot exhaust the stack of a validating reader.
const MaxDepth = 32

// Value is one parsed value: its tag and its data, which alias the parsed
// buffer. The zero Value is invalid (Tag 0).
type Value struct {
	Tag  byte
	Data []byte
}

// Parse reads the value at the start of b and returns it with the bytes
// after it. It checks the framing and the tag only; containers are checked
// as they are walked (Next, Pair) or all at once by Check.
func Parse(b []byte) (Value, []byte, error) {
	n, i := 0, 0
	for ; i < len(b) && b[i] != ':'; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return Value{}, nil, ErrLength
		}
		if i >= 9 {
			return Value{}, nil, ErrTooLong
		}
		n = n*10 + int(c-'0')
	}
	if i == len(b) {
		return Value{}, nil, ErrShort // no colon yet: the value is cut short
	}
	if i == 0 {
		return Value{}, nil, ErrLength
	}
	start := i + 1
	if len(b)-start < n+1 {
		return Value{}, nil, ErrShort
	}
	v := Value{Tag: b[start+n], Data: b[start : start+n : start+n]}
	switch v.Tag {
	case String, Dict, List:
	case Int:
		if _, err := v.Int(); err != nil {
			return Value{}, nil, err
		}
	case Bool:
		if _, err := v.Bool(); err != nil {
			return Value{}, nil, err
		}
	case Null:
		if n != 0 {
			return Value{}, nil, ErrNull
		}
	case Float:
		if _, err := v.Float(); err != nil {
			return Value{}, nil, err
		}
	default:
		return Value{}, nil, ErrTag
	}
	return v, b[start+n+1:], nil
}

// ParseAll reads exactly one value that fills b, containers included
// (Check).
func ParseAll(b []byte) (Value, error) {
	v, rest, err := Parse(b)
	if err != nil {
		return Value{}, err
	}
	if len(rest) != 0 {
		return Value{}, ErrTrailing
	}
	return v, Check(v)
}

// Check validates v and everything inside it, to MaxDepth.
func Check(v Value) error { return check(v, 0) }

func check(v Value, depth int) error {
	if v.Tag != Dict && v.Tag != List {
		return nil
	}
	if depth >= MaxDepth {
		return ErrTooDeep
	}
	it := v.Items()
	for {
		var e Value
		var ok bool
		if v.Tag == Dict {
			_, e, ok = it.Pair()
		} else {
			e, ok = it.Next()
		}
		if !ok {
			return it.Err()
		}
		if err := check(e, depth+1); err != nil {
			return err
		}
	}
}

// Str returns the data of a string value.
func (v Value) Str() ([]byte, error) {
	if v.Tag != String {
		return nil, ErrType
	}
	return v.Data, nil
}

// Int returns an integer value (a signed 64-bit decimal).
func (v Value) Int() (int64, error) {
	if v.Tag != Int {
		return 0, ErrType
	}
	d := v.Data
	neg := len(d) > 0 && d[0] == '-'
	if neg {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 19 {
		if len(d) > 19 {
			return 0, ErrIntRange
		}
		return 0, ErrInt
	}
	var n uint64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, ErrInt
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, ErrIntRange
		}
		return -int64(n), nil
	}
	if n > 1<<63-1 {
		return 0, ErrIntRange
	}
	return int64(n), nil
}

// Bool returns a boolean value.
func (v Value) Bool() (bool, error) {
	if v.Tag != Bool {
		return false, ErrType
	}
	switch string(v.Data) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, ErrBool
}

// Float returns a float value.
func (v Value) Float() (float64, error) {
	if v.Tag != Float {
		return 0, ErrType
	}
	f, err := strconv.ParseFloat(string(v.Data), 64)
	if err != nil {
		return 0, ErrFloat
	}
	return f, nil
}

// Items walks the elements of a list, or the keys and values of a
// dictionary in turn. On a value of another type it yields nothing and
// Err reports ErrType.
func (v Value) Items() Iter {
	if v.Tag != Dict && v.Tag != List {
		return Iter{err: ErrType}
	}
	return Iter{rest: v.Data, dict: v.Tag == Dict}
}

// Iter walks a container without allocating.
type Iter struct {
	rest []byte
	dict bool
	err  error
}

// Next returns the next element, or false at the end or at an error.
func (it *Iter) Next() (Value, bool) {
	if it.err != nil || len(it.rest) == 0 {
		return Value{}, false
	}
	v, rest, err := Parse(it.rest)
	if err != nil {
		it.err, it.rest = err, nil
		return Value{}, false
	}
	it.rest = rest
	return v, true
}

// Pair returns the next key and value of a dictionary, or false at the end
// or at an error (a key that is not a string, a key without a value).
func (it *Iter) Pair() (key []byte, val Value, ok bool) {
	k, ok := it.Next()
	if !ok {
		return nil, Value{}, false
	}
	if k.Tag != String {
		it.err, it.rest = ErrKey, nil
		return nil, Value{}, false
	}
	val, ok = it.Next()
	if !ok {
		if it.err == nil {
			it.err = ErrOddDict
		}
		return nil, Value{}, false
	}
	return k.Data, val, true
}

// Err is the error that stopped the walk, if any.
func (it *Iter) Err() error { return it.err }
