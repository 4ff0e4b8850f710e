// Package payload holds what every benchmark contender serves, so that the
// servers and the harness that checks their answers share the same bytes.
//
// Paths:
//
//	GET  /hello  200 text/plain "hello world" (11 bytes)
//	GET  /big    200 text/plain, BigSize bytes of Big()
//	POST /echo   200, the request body echoed back (the load sends EchoSize bytes of Echo())
package payload

const (
	// Hello is the tiny response body of the hello scenario.
	Hello = "hello world"
	// BigSize is the body size of the big scenario: 16 KiB.
	BigSize = 16 << 10
	// EchoSize is the request body size of the echo scenario: 4 KiB.
	EchoSize = 4 << 10
)

// alphabet keeps the bodies printable, so that the harness can put the echo
// body in a wrk Lua long string as it is.
const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// pattern returns n deterministic printable bytes, different at each offset
// modulo the alphabet length, so that a truncated or shifted body is caught.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[(i*7+i/len(alphabet)+seed)%len(alphabet)]
	}
	return b
}

// Big returns a fresh copy of the big scenario's body.
func Big() []byte { return pattern(BigSize, 0) }

// Echo returns a fresh copy of the echo scenario's request body.
func Echo() []byte { return pattern(EchoSize, 11) }
