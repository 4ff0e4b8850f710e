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
	"runtime"
	"sync"
	"time"

	"github.com/nanogate/nanogate/gateway"
)

const (
	// flushEvery bounds how stale the written log may be.
	flushEvery = 200 * time.Millisecond
	// bufSize is one buffer's size, and buffers how many each shard has:
	// one filling while the others wait for or are in the write. When all
	// of a shard's are full, a request waits for the writer rather than
	// the log growing without bound or losing lines.
	bufSize = 64 << 10
	buffers = 3
)

// Log is an access log. Close it to write what is buffered and stop its
// flusher.
//
// Lines go into one of several shards by client connection, each with its
// own lock and buffers: with one lock, two processors writing lines at
// once took 2.2 times the CPU per line of one (BenchmarkServedParallel,
// the lock's cache line going back and forth). A connection's lines keep
// their order; lines of different connections may be written out of order
// by up to flushEvery, as nginx's workers' buffered logs are.
type Log struct {
	json   bool
	w      io.Writer
	pool   sync.Pool // *scratch
	shards []shard

	full chan full // buffers for the flusher to write, in order
	stop chan struct{}
	done chan struct{}
}

// full is a buffer handed to the flusher, and the shard it goes back to.
type full struct {
	b  []byte
	sh *shard
}

type shard struct {
	mu     sync.Mutex
	wake   sync.Cond // signalled when a buffer is back in spare, or on close
	cur    []byte    // lines not yet handed to the flusher; nil: waiting for a spare
	spare  [][]byte  // empty buffers
	queued int       // buffers of this shard in full
	closed bool      // the flusher is gone: lines are written at once
	_      [64]byte  // keeps two shards' locks off one cache line
}

// New writes to w, as JSON lines or as text (key=value) lines, the two
// shapes of slog's handlers.
func New(w io.Writer, json bool) *Log {
	n := runtime.GOMAXPROCS(0)
	l := &Log{json: json, w: w, shards: make([]shard, n),
		full: make(chan full, n*buffers), stop: make(chan struct{}), done: make(chan struct{})}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.wake.L = &sh.mu
		sh.cur = make([]byte, 0, bufSize)
		for range buffers - 1 {
			sh.spare = append(sh.spare, make([]byte, 0, bufSize))
		}
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
	l.append(&l.shards[x.Conn%uint64(len(l.shards))], s.line)
	if cap(s.line) > 4<<10 {
		s.line = make([]byte, 0, 512)
	}
	l.pool.Put(s)
}

// append adds a line to the shard's current buffer, first handing the
// buffer to the flusher if the line does not fit. It never blocks holding
// the lock, so the flusher can always take it.
func (l *Log) append(sh *shard, line []byte) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for !sh.closed {
		switch {
		case sh.cur == nil && len(sh.spare) == 0:
			sh.wake.Wait() // every buffer is full: wait for the writer
		case sh.cur == nil:
			sh.cur = sh.spare[len(sh.spare)-1]
			sh.spare = sh.spare[:len(sh.spare)-1]
		case len(sh.cur) > 0 && len(sh.cur)+len(line) > cap(sh.cur):
			l.full <- full{sh.cur, sh} // never blocks: it has a slot for every buffer
			sh.queued++
			sh.cur = nil
		default:
			sh.cur = append(sh.cur, line...)
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
		case f := <-l.full:
			l.write(f, true)
		case <-t.C:
			for i := range l.shards {
				if b := l.shards[i].takeCurrent(); b != nil {
					l.write(full{b, &l.shards[i]}, false)
				}
			}
		case <-l.stop:
			for i := range l.shards {
				l.shards[i].mu.Lock()
			}
			for len(l.full) > 0 { // only append sends to full, under a shard's lock
				l.w.Write((<-l.full).b)
			}
			for i := range l.shards {
				sh := &l.shards[i]
				l.w.Write(sh.cur)
				sh.cur, sh.closed = nil, true
				sh.wake.Broadcast()
				sh.mu.Unlock()
			}
			return
		}
	}
}

// takeCurrent swaps the current buffer for a spare and returns it, or nil
// if it is empty, if full buffers of the shard wait (they go first, so that
// lines keep their order; the current one goes at the next tick) or if no
// spare is left.
func (sh *shard) takeCurrent() []byte {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.cur) == 0 || sh.queued > 0 || len(sh.spare) == 0 {
		return nil
	}
	b := sh.cur
	sh.cur = sh.spare[len(sh.spare)-1]
	sh.spare = sh.spare[:len(sh.spare)-1]
	return b
}

// write writes a buffer (queued: it came through full) and puts it back
// as a spare of its shard. A failed write loses those lines and is not
// retried: the log must not stop the gateway.
func (l *Log) write(f full, queued bool) {
	l.w.Write(f.b)
	sh := f.sh
	sh.mu.Lock()
	sh.spare = append(sh.spare, f.b[:0])
	if queued {
		sh.queued--
	}
	sh.wake.Signal()
	sh.mu.Unlock()
}

// Close writes what is buffered and stops the flusher. Lines served
// after Close are written at once.
func (l *Log) Close() error {
	close(l.stop)
	<-l.done
	return nil
}
