package sp

import (
	"bufio"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// readBufferSize lets one read system call bring in many small replies.
const readBufferSize = 64 << 10

// maxSpare bounds the write buffer kept between batches, so that one large
// message does not pin its size for the life of the connection.
const maxSpare = 1 << 20

// maxQueued is the most a batch holds before senders wait for the writer
// to take it. Without a bound, a worker answering 256 requests of 16 KiB
// each while the socket was full grew its batch to megabytes by append,
// past maxSpare, so every batch was a fresh allocation: copies, page faults
// and garbage collection took 60% of its CPU (bench/harness --scenario big).
// Half of maxSpare, so that a full batch plus one message, grown by
// append, is still kept for reuse.
const maxQueued = maxSpare / 2

// writeTimeout closes a connection whose peer stopped reading: its
// requests fail instead of piling up behind a write that never ends.
const writeTimeout = 30 * time.Second

// conn is one SP connection. Any goroutine may send; one goroutine reads;
// one goroutine, started here, writes.
type conn struct {
	nc  net.Conn
	ipc bool
	fr  frameReader
	br  *bufio.Reader

	// Senders append frames to out and wake the writer, which yields once
	// before it takes the buffer: on a loaded gateway, every request that is
	// ready to run appends its frame meanwhile, so one write system call
	// carries many messages; on an idle one the yield returns at once.
	mu      sync.Mutex
	out     []byte
	room    sync.Cond // on mu: out was taken, or err was set
	err     error     // first write error; the connection is closed then
	kick    chan struct{}
	flushed chan struct{} // closed when the writer has ended

	outstanding  atomic.Int32 // REQ side: requests sent and not answered
	peerDraining atomic.Bool  // REQ side: the peer gave the drain notice; send it nothing new
	closed       atomic.Bool
	draining     atomic.Bool // write what is queued, then end the writer
}

// unixBuffer sizes the kernel buffers of ipc connections. TCP autotunes
// its buffers (up to 4 MiB here); a unix socket keeps the 208 KiB default,
// and with many large replies in flight the writer then stalls in small
// steps: 16 KiB replies at 256 connections ran 25% slower over ipc than
// over tcp (bench/harness --scenario big). The kernel caps the request at
// net.core.wmem_max and rmem_max.
const unixBuffer = 1 << 20

func newConn(nc net.Conn, ipc bool, maxRecv int) *conn {
	if uc, ok := nc.(*net.UnixConn); ok {
		uc.SetReadBuffer(unixBuffer)
		uc.SetWriteBuffer(unixBuffer)
	}
	c := &conn{
		nc: nc, ipc: ipc, br: bufio.NewReaderSize(nc, readBufferSize),
		kick: make(chan struct{}, 1), flushed: make(chan struct{}),
	}
	c.fr = frameReader{r: c.br, ipc: ipc, max: maxRecv}
	c.room.L = &c.mu
	go c.writeLoop()
	return c
}

// send queues one message for the writer, first waiting while the batch
// is full. It reports errDead when the connection had already failed, so
// that nothing was sent; a failure after that closes the connection, and
// its reader's end tells the rest.
func (c *conn) send(hdr, body []byte) error {
	c.mu.Lock()
	for len(c.out) >= maxQueued && c.err == nil {
		c.room.Wait()
	}
	if c.err != nil {
		c.mu.Unlock()
		return errDead
	}
	wake := len(c.out) == 0
	c.out = appendFrame(c.out, c.ipc, hdr, body)
	c.mu.Unlock()
	if wake {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (c *conn) writeLoop() {
	defer close(c.flushed)
	var spare []byte
	var armed time.Time
	for range c.kick {
		for {
			runtime.Gosched() // let the other ready senders append first
			c.mu.Lock()
			buf := c.out
			c.out, spare = spare[:0], nil
			c.room.Broadcast()
			c.mu.Unlock()
			if len(buf) == 0 {
				spare = buf
				break
			}
			// A peer that stops reading must not hold requests forever;
			// the deadline is pushed forward at most once a second.
			if now := time.Now(); now.Sub(armed) > time.Second {
				c.nc.SetWriteDeadline(now.Add(writeTimeout))
				armed = now
			}
			if _, err := c.nc.Write(buf); err != nil {
				c.mu.Lock()
				c.err = err
				c.room.Broadcast()
				c.mu.Unlock()
				c.close()
				return
			}
			if cap(buf) <= maxSpare {
				spare = buf
			}
		}
		// Draining starts once no sender is left, so the queue is empty.
		if c.closed.Load() || c.draining.Load() {
			return
		}
	}
}

// close closes the connection at once; queued messages are dropped.
func (c *conn) close() {
	if c.closed.CompareAndSwap(false, true) {
		c.nc.Close()
		c.mu.Lock()
		if c.err == nil {
			c.err = ErrClosed
		}
		c.room.Broadcast()
		c.mu.Unlock()
		c.wake()
	}
}

// drain writes what is queued, then closes the connection.
func (c *conn) drain() {
	c.draining.Store(true)
	c.wake()
	<-c.flushed
	c.close()
}

func (c *conn) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// errDead: the connection failed before this message was queued.
const errDead = Error("sp: connection already failed")
