package session

// Error is the type of this package's sentinel errors: constants, so that
// they cannot be reassigned and compare with ==.
type Error string

func (e Error) Error() string { return string(e) }

// Reply errors: each means the worker answered something that is not a
// usable HTTP response, which the gateway reports as 502.
const (
	ErrStatusLine    = Error("session: malformed status line")
	ErrStatusCode    = Error("session: unsupported status code")
	ErrHeaderLine    = Error("session: malformed header line")
	ErrNoHeaderEnd   = Error("session: reply ends inside the header block")
	ErrContentLength = Error("session: invalid or conflicting Content-Length")
	ErrBodyLength    = Error("session: body length differs from Content-Length")
	ErrChunked       = Error("session: malformed chunked body")
	ErrEncoding      = Error("session: unsupported Transfer-Encoding")
)
