package session

// Field names a header field the gateway treats specially. Classifying a
// name once, by length and then by bytes, replaces a chain of
// case-insensitive comparisons per header line on the request path.
type Field uint8

const (
	FieldOther Field = iota
	FieldContentLength
	FieldTransferEncoding
	FieldForwardedFor
	FieldForwardedProto
	FieldRequestID
	FieldSession
	FieldInbound
	FieldHost
	FieldServer
	FieldDate
	// Hop-by-hop fields (RFC 9110 section 7.6.1), and Proxy-Connection,
	// which old clients still send.
	FieldConnection
	FieldKeepAlive
	FieldProxyConnection
	FieldTE
	FieldTrailer
	FieldUpgrade
)

// HopByHop reports whether f describes one connection only, so that a proxy
// must not forward it.
func (f Field) HopByHop() bool {
	return f >= FieldConnection || f == FieldTransferEncoding
}

// FieldOf classifies a header field name, case-insensitively.
func FieldOf(name []byte) Field {
	var want string
	var f Field
	switch len(name) {
	case 2:
		want, f = "te", FieldTE
	case 4:
		switch name[0] | 0x20 {
		case 'h':
			want, f = "host", FieldHost
		case 'd':
			want, f = "date", FieldDate
		}
	case 6:
		want, f = "server", FieldServer
	case 7:
		switch name[0] | 0x20 {
		case 't':
			want, f = "trailer", FieldTrailer
		case 'u':
			want, f = "upgrade", FieldUpgrade
		}
	case 10:
		switch name[0] | 0x20 {
		case 'c':
			want, f = "connection", FieldConnection
		case 'k':
			want, f = "keep-alive", FieldKeepAlive
		}
	case 12:
		want, f = "x-request-id", FieldRequestID
	case 14:
		want, f = "content-length", FieldContentLength
	case 15:
		want, f = "x-forwarded-for", FieldForwardedFor
	case 16:
		want, f = "proxy-connection", FieldProxyConnection
	case 17:
		switch name[0] | 0x20 {
		case 't':
			want, f = "transfer-encoding", FieldTransferEncoding
		case 'x':
			want, f = "x-forwarded-proto", FieldForwardedProto
		}
	case 18:
		switch name[11] | 0x20 {
		case 's':
			want, f = "x-nanogate-session", FieldSession
		case 'i':
			want, f = "x-nanogate-inbound", FieldInbound
		}
	}
	if want == "" || !equalLower(name, want) {
		return FieldOther
	}
	return f
}

// equalLower reports whether b equals the lower-case ASCII string s, ignoring
// the case of b. Setting bit 0x20 lower-cases letters and leaves '-' alone;
// every other byte of these names is a letter.
func equalLower(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := b[i]
		if c != s[i] && (c|0x20 != s[i] || s[i] < 'a' || s[i] > 'z') {
			return false
		}
	}
	return true
}

// IsTokenChar reports whether c may appear in a token (RFC 9110 section
// 5.6.2), the syntax of header field names and methods.
func IsTokenChar(c byte) bool { return tokenTable[c] }

// ValidName reports whether name is a non-empty token (RFC 9110 section
// 5.6.2), as a header field name must be.
func ValidName[T string | []byte](name T) bool {
	if len(name) == 0 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !tokenTable[name[i]] {
			return false
		}
	}
	return true
}
