// Package pieces lends buffers for frame bodies that are copied, held for
// a while, then dropped: the queues between a stream's reader and its
// consumer, in the gateway's hub and in the worker SDK. A fresh allocation
// per 64 KiB frame cost a tenth to a third of a process's CPU on a
// streamed transfer (page faults and garbage collection; bench/harness
// --scenario stream).
//
// Two classes, 64 KiB and 256 KiB, each lent only to bodies of at least
// half its size: a queue bounded by the bytes it holds then holds at most
// twice that in buffers. Other sizes get a buffer of their own.
package pieces

import "sync"

const (
	small = 64 << 10
	large = 256 << 10
)

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, 0, small); return &b }}
	largePool = sync.Pool{New: func() any { b := make([]byte, 0, large); return &b }}
)

// Copy returns a copy of b, in a lent buffer when its size fits a class.
// Give it back with Put once it is no longer read.
func Copy(b []byte) *[]byte {
	var bp *[]byte
	switch n := len(b); {
	case n >= small/2 && n <= small:
		bp = smallPool.Get().(*[]byte)
	case n >= large/2 && n <= large:
		bp = largePool.Get().(*[]byte)
	default:
		c := append([]byte(nil), b...)
		return &c
	}
	*bp = append((*bp)[:0], b...)
	return bp
}

// Put gives back a buffer from Copy; one of its own is left to the
// garbage collector. nil is allowed.
func Put(bp *[]byte) {
	if bp == nil {
		return
	}
	switch cap(*bp) {
	case small:
		smallPool.Put(bp)
	case large:
		largePool.Put(bp)
	}
}
