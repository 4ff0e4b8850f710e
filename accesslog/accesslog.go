// Package accesslog writes one line per request, an Observer of the
// gateway: time, client, method, URI, status, bytes, duration, route,
// request id and, when the gateway answered itself, why.
//
// Lines go into a buffer that the flusher goroutine writes every
// flushEvery or as soon as it is full, not one write system call per
// request: at 30k requests a second that call alone cost the gateway about
// a tenth of its CPU (bench/harness, hello). The write happens outside the
// lock that requests append under, on a buffer handed over whole: with one
// buffer flushed in place, requests waited for the write system call and
// the lock's wake-ups took 2% of the gateway's CPU (pprof under wrk). A
// crash loses at most flushEvery of lines; Close writes the rest.
//
// The line is appended by hand (line.go), not through log/slog: slog's
// handlers took 2.2-6 µs and 7-8 allocations per line on this machine
// (BenchmarkServed, in the history of this file), a tenth of a core at 30k
// requests a second; the appender takes a few hundred nanoseconds and
// allocates nothing. The fields keep slog's names and shapes, so that a
// log pipeline reads both the same way.
package accesslog

import (
	"io"
	"sync"
	"time"

	"github.com/nanogate/nanogate/gateway"
)

const (
	// flushEvery bounds how stale the written log may be.
	flushEvery = 200 * time.Millisecond
	// bufSize is one buffer's size, and buffers how many there are: one
	// filling while the others wait for or are in the write. When all are
	// full, a request waits for the writer rather than the log growing
	// without bound or losing lines.
	bufSize = 64 << 10
	buffers = 3
)

// Log is an access log. Close it to write what is buffered and stop its
// flusher.
type Log struct {
	json bool
	w    io.Writer
	pool sync.Pool // *scratch

	mu     sync.Mutex
	wake   sync.Cond // signalled when a buffer is back in spare, or on close
	cur    []byte    // lines not yet handed to the flusher; nil: waiting for a spare
	spare  [][]byte  // empty buffers
	closed bool      // the flusher is gone: lines are written at once

	full chan []byte // buffers for the flusher to write, in order
	stop chan struct{}
	done chan struct{}
}

// New writes to w, as JSON lines or as text (key=value) lines, the two
// shapes of slog's handlers.
func New(w io.Writer, json bool) *Log {
	l := &Log{json: json, w: w, cur: make([]byte, 0, bufSize),
		full: make(chan []byte, buffers), stop: make(chan struct{}), done: make(chan struct{})}
	l.wake.L = &l.mu
	for range buffers - 1 {
		l.spare = append(l.spare, make([]byte, 0, bufSize))
	}
	l.pool.New = func() any { return &scratch{line: make([]byte, 0, 512)} }
	go l.flusher()
	return l
}

// Served writes the line of one request.
func (l *Log) Served(x gateway.Exchange) {
	s := l.pool.Get().(*scratch)
	now := x.End
	if now.IsZero() {
		now = time.Now()
	}
	s.line = s.appendLine(s.line[:0], now, &x, l.json)
	l.append(s.line)
	if cap(s.line) > 4<<10 {
		s.line = make([]byte, 0, 512)
	}
	l.pool.Put(s)
}

// append adds a line to the current buffer, first handing the buffer to
// the flusher if the line does not fit. It never blocks holding the lock,
// so the flusher can always take it.
func (l *Log) append(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for !l.closed {
		switch {
		case l.cur == nil && len(l.spare) == 0:
			l.wake.Wait() // every buffer is full: wait for the writer
		case l.cur == nil:
			l.cur = l.spare[len(l.spare)-1]
			l.spare = l.spare[:len(l.spare)-1]
		case len(l.cur) > 0 && len(l.cur)+len(line) > cap(l.cur):
			l.full <- l.cur // never blocks: it has a slot for every buffer
			l.cur = nil
		default:
			l.cur = append(l.cur, line...)
			return
		}
	}
	l.w.Write(line)
}

func (l *Log) flusher() {
	defer close(l.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case b := <-l.full:
			l.write(b)
		case <-t.C:
			if b := l.takeCurrent(); b != nil {
				l.write(b)
			}
		case <-l.stop:
			l.mu.Lock()
			for len(l.full) > 0 { // only append sends to full, under the lock
				l.w.Write(<-l.full)
			}
			l.w.Write(l.cur)
			l.cur, l.closed = nil, true
			l.wake.Broadcast()
			l.mu.Unlock()
			return
		}
	}
}

// takeCurrent swaps the current buffer for a spare and returns it, or nil
// if it is empty, if full buffers wait (they go first, so that lines keep
// their order; the current one goes at the next tick) or if no spare is
// left.
func (l *Log) takeCurrent() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cur) == 0 || len(l.full) > 0 || len(l.spare) == 0 {
		return nil
	}
	b := l.cur
	l.cur = l.spare[len(l.spare)-1]
	l.spare = l.spare[:len(l.spare)-1]
	return b
}

// write writes a buffer and puts it back as a spare. A failed write loses
// those lines and is not retried: the log must not stop the gateway.
func (l *Log) write(b []byte) {
	l.w.Write(b)
	l.mu.Lock()
	l.spare = append(l.spare, b[:0])
	l.wake.Signal()
	l.mu.Unlock()
}

// Close writes what is buffered and stops the flusher. Lines served
// after Close are written at once.
func (l *Log) Close() error {
	close(l.stop)
	<-l.done
	return nil
}
