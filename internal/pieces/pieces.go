// Package pieces lends buffers for frame bodies that are held for a
// while, then dropped: the queues between a stream's reader and its
// consumer, in the gateway's hub and in the worker SDK, and the messages
// that an SP connection reads or writes without copying them (package sp's
// Pull and Peer.SendOwned). A fresh allocation per 64 KiB frame cost a
// tenth to a third of a process's CPU on a streamed transfer (page faults
// and garbage collection; bench/harness --scenario stream).
//
// Two classes, 64 KiB and 256 KiB plus room for a frame's header (so that
// a whole message of a 64 KiB body fits the small one), each lent only for
// sizes of at least half its own: a queue bounded by the bytes it holds
// then holds at most twice that in buffers. Other sizes get a buffer of
// their own.
package pieces

import "sync"

// headroom is the room above each class's round size: more than a frame's
// header (package frames) with an SP message's.
const headroom = 256

const (
	small = 64<<10 + headroom
	large = 256<<10 + headroom
)

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, 0, small); return &b }}
	largePool = sync.Pool{New: func() any { b := make([]byte, 0, large); return &b }}
)

// Get returns a buffer of length n, lent when n fits a class. Give it back
// with Put once it is no longer read.
func Get(n int) *[]byte {
	var bp *[]byte
	switch {
	case n >= small/2 && n <= small:
		bp = smallPool.Get().(*[]byte)
	case n >= large/2 && n <= large:
		bp = largePool.Get().(*[]byte)
	default:
		b := make([]byte, n)
		return &b
	}
	*bp = (*bp)[:n]
	return bp
}

// Copy returns a copy of b, in a lent buffer when its size fits a class.
// Give it back with Put once it is no longer read.
func Copy(b []byte) *[]byte {
	bp := Get(len(b))
	copy(*bp, b)
	return bp
}

// Worth reports whether holding bp for n of its bytes wastes at most half
// of it: a holder that is handed a buffer (a read message) keeps it when it
// is worth it, and copies the n bytes it needs otherwise.
func Worth(bp *[]byte, n int) bool { return 2*n >= cap(*bp) }

// Put gives back a buffer from Get or Copy; others (and nil) are left to
// the garbage collector.
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
