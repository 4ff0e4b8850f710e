// Package workertest builds the C workers of backend-sdk/c with gcc and
// runs them as real processes against the gateway's own sockets
// (internal/sp), to show that a worker written with stock libnanomsg and
// no nanogate code speaks docs/PROTOCOL.md.
//
// The tests live here, not in backend-sdk/c, because the go command
// refuses a package directory that holds .c files without cgo.
package workertest
