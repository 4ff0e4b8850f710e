package sp

import (
	"bufio"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanogate/nanogate/internal/pieces"
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
	nc   net.Conn
	ipc  bool
	fr   frameReader
	br   *bufio.Reader
	past bool // the last body was read past br (readBody): br is empty

	// Senders append frames to out and wake the writer, which yields once
	// before it takes the buffer: on a loaded gateway, every request that is
	// ready to run appends its frame meanwhile, so one write system call
	// carries many messages; on an idle one the yield returns at once.
	mu       sync.Mutex
	out      []byte
	refs     []ref     // bodies queued by reference (sendOwned), in order
	refBytes int       // their bytes
	room     sync.Cond // on mu: out was taken, or err was set
	err      error     // first write error; the connection is closed then
	kick     chan struct{}
	flushed  chan struct{} // closed when the writer has ended

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
	if err := c.waitRoom(); err != nil {
		c.mu.Unlock()
		return err
	}
	c.queue(appendFrame(c.out, c.ipc, hdr, body))
	return nil
}

// full reports whether the batch holds maxQueued; c.mu is held.
func (c *conn) full() bool { return len(c.out)+c.refBytes >= maxQueued }

// waitRoom waits, holding c.mu, while the batch is full; it reports
// errDead once the connection has failed.
func (c *conn) waitRoom() error {
	for c.full() && c.err == nil {
		c.room.Wait()
	}
	if c.err != nil {
		return errDead
	}
	return nil
}

// queue makes out the batch, releases c.mu, and wakes the writer if the
// batch was empty.
func (c *conn) queue(out []byte) {
	wake := len(c.out) == 0
	c.out = out
	c.mu.Unlock()
	if wake {
		c.wake()
	}
}

// errFull: trySend found the batch full.
const errFull = Error("sp: connection's queue is full")

// trySend is send that never waits: with the batch full, it sends nothing
// and reports errFull.
func (c *conn) trySend(hdr, body []byte) error {
	c.mu.Lock()
	switch {
	case c.err != nil:
		c.mu.Unlock()
		return errDead
	case c.full():
		c.mu.Unlock()
		return errFull
	}
	c.queue(appendFrame(c.out, c.ipc, hdr, body))
	return nil
}

// ref is a body queued by reference: it goes out after out[:at].
type ref struct {
	at   int
	body *[]byte // from package pieces; given back once written
}

// copyBelow: a body shorter than this is copied into the batch rather than
// written from its own buffer, which costs a vector element and keeps the
// buffer until the write.
const copyBelow = 16 << 10

// sendOwned is send for a body in a buffer from package pieces, which it
// takes in every case: a large body is written from it by the writer, with
// no copy into the batch. A 1 GiB upload through the gateway spent a fifth
// of its CPU on that copy, in 256 KiB frames (pprof under
// bench/harness --scenario stream).
func (c *conn) sendOwned(hdr []byte, body *[]byte) error {
	if len(*body) < copyBelow {
		err := c.send(hdr, *body)
		pieces.Put(body)
		return err
	}
	c.mu.Lock()
	if err := c.waitRoom(); err != nil {
		c.mu.Unlock()
		pieces.Put(body)
		return err
	}
	out := appendFrameHead(c.out, c.ipc, hdr, len(*body))
	c.refs = append(c.refs, ref{len(out), body})
	c.refBytes += len(*body)
	c.queue(out)
	return nil
}

func (c *conn) writeLoop() {
	defer close(c.flushed)
	var spare []byte
	var spareRefs []ref
	var vec net.Buffers
	var armed time.Time
	for range c.kick {
		for {
			runtime.Gosched() // let the other ready senders append first
			c.mu.Lock()
			buf, refs := c.out, c.refs
			c.out, spare = spare[:0], nil
			c.refs, spareRefs, c.refBytes = spareRefs[:0], nil, 0
			c.room.Broadcast()
			c.mu.Unlock()
			if len(buf) == 0 {
				spare, spareRefs = buf, refs
				break
			}
			// A peer that stops reading must not hold requests forever;
			// the deadline is pushed forward at most once a second.
			if now := time.Now(); now.Sub(armed) > time.Second {
				c.nc.SetWriteDeadline(now.Add(writeTimeout))
				armed = now
			}
			var err error
			if len(refs) == 0 {
				_, err = c.nc.Write(buf)
			} else {
				vec, err = writeVector(c.nc, vec, buf, refs)
				for i := range refs {
					pieces.Put(refs[i].body)
					refs[i] = ref{}
				}
			}
			spareRefs = refs
			if err != nil {
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

// writeVector writes buf with each ref's body at its place, in one
// writev on a socket; vec is reused across calls.
func writeVector(w io.Writer, vec net.Buffers, buf []byte, refs []ref) (net.Buffers, error) {
	vec = vec[:0]
	at := 0
	for _, r := range refs {
		vec = append(vec, buf[at:r.at], *r.body)
		at = r.at
	}
	if at < len(buf) {
		vec = append(vec, buf[at:])
	}
	base := vec
	_, err := vec.WriteTo(w) // consumes vec; base keeps the array
	clear(base)
	return base[:0], err
}

// largeBody is the size from which readBody reads the rest of a body from
// the socket straight into its buffer, past br.
const largeBody = 16 << 10

// nextMessage is fr.next for a reader of bodies (readBody): after a large
// body, br is empty, and the next header is read from the socket alone, so
// that br does not take in the body behind it only to copy it out. Read
// through br, a streamed download's 64 KiB bodies were copied once more in
// the gateway, 11% of its CPU (pprof under bench/harness --scenario
// stream); the header's own read is one small system call per message.
func (c *conn) nextMessage() (int, error) {
	if !c.past || c.br.Buffered() > 0 {
		return c.fr.next()
	}
	c.fr.r = c.nc
	n, err := c.fr.next()
	c.fr.r = c.br
	return n, err
}

// readBody reads the body nextMessage announced into p: what br holds
// first, then the rest, from the socket itself when it is large.
func (c *conn) readBody(p []byte) error {
	k := 0
	if b := c.br.Buffered(); b > 0 {
		k, _ = c.br.Read(p[:min(len(p), b)])
	}
	rest := p[k:]
	c.past = len(rest) >= largeBody
	var err error
	if c.past {
		_, err = io.ReadFull(c.nc, rest)
	} else {
		_, err = io.ReadFull(c.br, rest)
	}
	return err
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
