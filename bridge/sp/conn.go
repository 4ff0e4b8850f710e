package sp

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// readBufferSize lets one read system call bring in many small replies.
const readBufferSize = 64 << 10

// maxSpare bounds the write buffer kept between batches, so that one large
// message does not pin its size for the life of the connection.
const maxSpare = 1 << 20

// writeTimeout closes a connection whose peer stopped reading: its
// requests fail instead of piling up behind a write that never ends.
const writeTimeout = 30 * time.Second

// conn is one SP connection. Any goroutine may send; one goroutine reads.
type conn struct {
	nc  net.Conn
	ipc bool
	fr  frameReader
	br  *bufio.Reader

	// Writes are batched by group commit: a sender appends its frame to out;
	// if no write is in progress it becomes the writer and writes out, again
	// and again while others keep appending. Nothing waits on a timer or a
	// dedicated goroutine, and a lone request is written at once.
	mu      sync.Mutex
	out     []byte
	spare   []byte
	writing bool
	err     error // first write error; the connection is closed then

	outstanding atomic.Int32 // REQ side: requests sent and not answered
	closed      atomic.Bool
}

func newConn(nc net.Conn, ipc bool, maxRecv int) *conn {
	c := &conn{nc: nc, ipc: ipc, br: bufio.NewReaderSize(nc, readBufferSize)}
	c.fr = frameReader{r: c.br, ipc: ipc, max: maxRecv}
	return c
}

// send queues one message and writes it, with whatever else is queued, unless
// another sender is writing and will take it along. It reports errDead when
// the connection had already failed (nothing was sent).
func (c *conn) send(hdr, body []byte) error {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return errDead
	}
	c.out = appendFrame(c.out, c.ipc, hdr, body)
	if c.writing {
		c.mu.Unlock()
		return nil
	}
	c.writing = true
	for len(c.out) > 0 && c.err == nil {
		buf := c.out
		c.out = c.spare[:0]
		c.spare = nil
		c.mu.Unlock()
		c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		if cap(buf) <= maxSpare {
			c.spare = buf[:0]
		}
		if err != nil {
			c.err = err
		}
	}
	c.writing = false
	err := c.err
	c.mu.Unlock()
	if err != nil {
		c.close()
	}
	return err
}

func (c *conn) close() {
	if c.closed.CompareAndSwap(false, true) {
		c.nc.Close()
	}
}

// errDead: the connection failed before this message was queued.
const errDead = Error("sp: connection already failed")
