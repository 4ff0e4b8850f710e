package accesslog

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/nanogate/nanogate/gateway"
)

// scratch is what one line is made in, kept in a pool: the line, and the
// time stamp's second, zone and all, formatted once per second rather than
// per line (time.AppendFormat was a fifth of the line's cost).
type scratch struct {
	line  []byte
	sec   int64          // the Unix second stamp is for
	loc   *time.Location // and its location
	stamp []byte         // "2006-01-02T15:04:05.000Z07:00" formatted at sec
	ms    int            // where the milliseconds are in stamp
}

// appendTime appends now as slog does, to the millisecond.
func (s *scratch) appendTime(b []byte, now time.Time) []byte {
	if sec := now.Unix(); sec != s.sec || now.Location() != s.loc || s.stamp == nil {
		s.stamp = now.AppendFormat(s.stamp[:0], "2006-01-02T15:04:05.000Z07:00") // slog's precision
		s.sec, s.loc = sec, now.Location()
		s.ms = bytes.IndexByte(s.stamp, '.') + 1
	}
	ms := now.Nanosecond() / 1e6
	s.stamp[s.ms], s.stamp[s.ms+1], s.stamp[s.ms+2] = byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10)
	return append(b, s.stamp...)
}

// appendLine appends one access line, JSON or text, ended by a newline:
//
//	{"time":"...","level":"INFO","msg":"access","client":"192.0.2.1:4242","method":"GET",...}
//	time=... level=INFO msg=access client=192.0.2.1:4242 method=GET ...
func (s *scratch) appendLine(b []byte, now time.Time, x *gateway.Exchange, json bool) []byte {
	f := fields{b: b, json: json}
	if json {
		f.b = append(f.b, '{')
	}
	f.raw("time", s.appendTime(f.scratch[:0], now))
	f.str("level", "INFO")
	f.str("msg", "access")
	f.bytes("client", appendAddr(f.scratch[:0], x.Client))
	f.bytes("method", x.Method)
	f.bytes("uri", x.URI)
	f.num("status", strconv.AppendInt(f.scratch[:0], int64(x.Status), 10))
	f.num("bytes", strconv.AppendInt(f.scratch[:0], int64(x.Bytes), 10))
	f.num("ms", appendMillis(f.scratch[:0], x.Elapsed))
	route := ""
	if x.Route != nil {
		route = x.Route.Name
	}
	f.str("route", route)
	f.bytes("id", x.RequestID)
	if x.Reason != gateway.ReasonNone {
		f.str("reason", x.Reason.String())
	}
	if json {
		f.b = append(f.b, '}')
	}
	return append(f.b, '\n')
}

// appendMillis appends d in milliseconds to the microsecond, with no
// trailing zeros ("1.5", "12", "0.034"): what strconv.AppendFloat's
// shortest form gave for the same value, at a third of its cost.
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	if frac == 0 {
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// appendAddr appends a TCP address without allocating; other kinds go
// through String.
func appendAddr(b []byte, a net.Addr) []byte {
	switch a := a.(type) {
	case nil:
		return b
	case *net.TCPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).AppendTo(b)
	}
	return append(b, a.String()...)
}

// fields appends key/value pairs in one of the two shapes.
type fields struct {
	b       []byte
	json    bool
	n       int
	scratch [64]byte
}

func (f *fields) key(k string) {
	if f.n > 0 {
		if f.json {
			f.b = append(f.b, ',')
		} else {
			f.b = append(f.b, ' ')
		}
	}
	f.n++
	if f.json {
		f.b = append(f.b, '"')
		f.b = append(f.b, k...)
		f.b = append(f.b, '"', ':')
	} else {
		f.b = append(f.b, k...)
		f.b = append(f.b, '=')
	}
}

func (f *fields) str(k, v string) { f.bytes(k, []byte(v)) }

// bytes appends a string value: JSON-quoted, or in text as slog does,
// bare unless it is empty or holds a space, '=', '"' or a control or
// non-ASCII character.
func (f *fields) bytes(k string, v []byte) {
	f.key(k)
	if f.json || needsQuote(v) {
		f.b = appendQuoted(f.b, v)
		return
	}
	f.b = append(f.b, v...)
}

// raw appends a value that needs no escaping (a time) as a string.
func (f *fields) raw(k string, v []byte) {
	f.key(k)
	if f.json {
		f.b = append(f.b, '"')
		f.b = append(f.b, v...)
		f.b = append(f.b, '"')
		return
	}
	f.b = append(f.b, v...)
}

// num appends a number, bare in both shapes.
func (f *fields) num(k string, v []byte) {
	f.key(k)
	f.b = append(f.b, v...)
}

func needsQuote(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	for _, c := range v {
		if c <= ' ' || c == '=' || c == '"' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends v as a JSON string (RFC 8259 section 7), which a
// text line also reads: quotes and backslashes escaped, control bytes as
// \u00XX, invalid UTF-8 as U+FFFD. A client's URI reaches the log, so
// nothing it sends can break a line or forge a field.
func appendQuoted(b, v []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < ' ' || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, v[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
