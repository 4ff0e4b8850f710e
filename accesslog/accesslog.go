// Package accesslog writes one line per request, an Observer of the
// gateway: time, client, method, URI, status, bytes, duration, route,
// request id and, when the gateway answered itself, why.
//
// Lines go through a buffer flushed every flushEvery and when full, not
// one write system call per request: at 30k requests a second that call
// alone cost the gateway about a tenth of its CPU (bench/harness, hello).
// A crash loses at most flushEvery of lines; Close flushes the rest.
//
// The line is appended by hand (line.go), not through log/slog: slog's
// handlers took 2.2-6 µs and 7-8 allocations per line on this machine
// (BenchmarkServed, in the history of this file), a tenth of a core at 30k
// requests a second; the appender takes a few hundred nanoseconds and
// allocates nothing. The fields keep slog's names and shapes, so that a
// log pipeline reads both the same way.
package accesslog

import (
	"bufio"
	"io"
	"sync"
	"time"

	"github.com/nanogate/nanogate/gateway"
)

// flushEvery bounds how stale the written log may be.
const flushEvery = 200 * time.Millisecond

// Log is an access log. Close it to flush and stop its flusher.
type Log struct {
	json bool
	buf  *lockedBuffer
	pool sync.Pool // *[]byte, one line each
	stop chan struct{}
	done chan struct{}
}

// New writes to w, as JSON lines or as text (key=value) lines, the two
// shapes of slog's handlers.
func New(w io.Writer, json bool) *Log {
	l := &Log{json: json, buf: &lockedBuffer{w: bufio.NewWriterSize(w, 64<<10)},
		stop: make(chan struct{}), done: make(chan struct{})}
	l.pool.New = func() any { b := make([]byte, 0, 512); return &b }
	go l.flusher()
	return l
}

// Served writes the line of one request.
func (l *Log) Served(x gateway.Exchange) {
	bp := l.pool.Get().(*[]byte)
	line := appendLine((*bp)[:0], time.Now(), &x, l.json)
	l.buf.Write(line)
	if cap(line) <= 4<<10 {
		*bp = line
		l.pool.Put(bp)
	}
}

func (l *Log) flusher() {
	defer close(l.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.buf.Flush()
			return
		case <-t.C:
			l.buf.Flush()
		}
	}
}

// Close flushes what is buffered and stops the flusher.
func (l *Log) Close() error {
	close(l.stop)
	<-l.done
	return nil
}

// lockedBuffer is a bufio.Writer shared by slog's handler and the flusher.
type lockedBuffer struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *lockedBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}
