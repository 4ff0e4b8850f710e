package zmqstream

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/nanogate/nanogate/internal/zmq"
)

// writeChunk bounds one message handed to libzmq, so that SndHWM messages
// bound what libzmq holds for a slow reader (fasthttp writes at most its
// 32 KiB buffer at once, except a body larger than it).
const writeChunk = 64 << 10

// Retry waits for a send libzmq refused: at SndHWM (the peer reads slower
// than we write) it tells nothing when room comes back, so the send is
// tried again, each wait twice the last, up to maxRetryWait.
const (
	minRetryWait = time.Millisecond
	maxRetryWait = 100 * time.Millisecond
)

// conn is one peer of the ZMQ_STREAM socket as a net.Conn. The loop
// goroutine delivers what the peer sends (deliver) and performs what the
// server writes (flush); the server's goroutine reads and writes. Reads
// wait on readable, writes past MaxOutbound on writable; both honour their
// deadlines, which may be changed from any goroutine while they wait.
type conn struct {
	l      *Listener
	id     []byte
	remote net.Addr
	flushF func() // c.flush, bound once: queueing it allocates nothing

	readable chan struct{} // cap 1: data, EOF, Close or a new read deadline
	writable chan struct{} // cap 1: room in out, Close or a new write deadline

	mu          sync.Mutex
	in          [][]byte // received, unread; in[0][inOff:] is next
	inOff       int
	inBytes     int
	out         [][]byte // written, not yet handed to libzmq; out[outHead] is next
	outHead     int
	outBytes    int
	scheduled   bool // a flush is queued on the loop, or waits to retry
	eof         bool // the peer disconnected: reads end once in is drained
	dead        bool // the peer is gone, or was cut: writes fail
	reset       bool // cut here: reads fail too
	closed      bool // Close was called
	ending      bool // CloseAfterResponse was called: reads report EOF
	linger      bool // LingerOnClose was called
	lingering   bool // closed, discarding what arrives before the close is sent
	discarded   int  // bytes discarded while lingering
	closeQueued bool // flush sends [id, ""] once out is empty
	rdl, wdl    time.Time
	rtimer      *time.Timer // made on the first read that waits with a deadline
	wtimer      *time.Timer

	retryWait time.Duration // the loop goroutine's only
}

func newConn(l *Listener, id, peer []byte) *conn {
	c := &conn{l: l, id: id, readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
	c.flushF = c.flush
	// libzmq's Peer-Address is the IP alone: the client's port is not known.
	ip, err := netip.ParseAddr(string(peer))
	if err != nil {
		ip = netip.IPv4Unspecified()
	}
	c.remote = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip.Unmap(), 0))
	return c
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// deliver queues bytes the peer sent; false when that would pass
// MaxInbound (the caller cuts the connection). Loop goroutine.
func (c *conn) deliver(b []byte) bool {
	c.mu.Lock()
	if c.closed { // nobody reads any more: dropped
		flush := false
		if c.lingering {
			if c.discarded += len(b); c.discarded >= c.l.cfg.LingerCloseBytes {
				flush = c.queueClose()
			}
		}
		c.mu.Unlock()
		if flush {
			c.flush() // this is the loop's goroutine
		}
		return true
	}
	defer c.mu.Unlock()
	if c.inBytes+len(b) > c.l.cfg.MaxInbound || c.l.inTotal.Load()+int64(len(b)) > c.l.cfg.MaxInboundTotal {
		return false
	}
	c.in = append(c.in, b) // b is ours (zmq handlers own their parts)
	c.inBytes += len(b)
	c.l.inTotal.Add(int64(len(b)))
	signal(c.readable)
	return true
}

// peerGone: libzmq says the peer disconnected. Reads return what was
// received, then EOF; writes fail. Loop goroutine.
func (c *conn) peerGone() {
	c.mu.Lock()
	c.eof, c.dead = true, true
	c.dropOut()
	c.mu.Unlock()
	signal(c.readable)
	signal(c.writable)
}

// cut ends a connection the listener closes itself (Overflow): reads and
// writes fail at once. Loop goroutine.
func (c *conn) cut() {
	c.mu.Lock()
	c.eof, c.dead, c.reset = true, true, true
	c.dropIn()
	c.dropOut()
	c.mu.Unlock()
	signal(c.readable)
	signal(c.writable)
}

func (c *conn) dropIn() {
	c.l.inTotal.Add(int64(-c.inBytes))
	c.in, c.inOff, c.inBytes = nil, 0, 0
}

func (c *conn) dropOut() {
	c.out, c.outHead, c.outBytes = nil, 0, 0
}

func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, c.opError("read", net.ErrClosed)
		case c.inBytes > 0 && !c.ending:
			n := c.take(p)
			c.mu.Unlock()
			return n, nil
		case c.reset:
			c.mu.Unlock()
			return 0, c.opError("read", syscall.ECONNRESET)
		case c.eof || c.ending:
			c.mu.Unlock()
			return 0, io.EOF
		}
		dl := c.rdl
		c.mu.Unlock()
		if err := wait(c.readable, dl, &c.rtimer); err != nil {
			return 0, c.opError("read", err)
		}
	}
}

// take copies received bytes into p; c.mu held.
func (c *conn) take(p []byte) int {
	n := 0
	for n < len(p) && len(c.in) > 0 {
		m := copy(p[n:], c.in[0][c.inOff:])
		n += m
		c.inOff += m
		if c.inOff == len(c.in[0]) {
			c.in[0] = nil
			c.in, c.inOff = c.in[1:], 0
		}
	}
	c.inBytes -= n
	c.l.inTotal.Add(int64(-n))
	if len(c.in) == 0 {
		c.in = nil // an idle connection holds no buffer
	}
	return n
}

// wait waits for a signal on ch, or until the deadline dl (zero: none).
// The timer is the connection's own, made once, so that a keep-alive
// connection's wait for its next request allocates nothing.
func wait(ch chan struct{}, dl time.Time, t **time.Timer) error {
	if dl.IsZero() {
		<-ch
		return nil
	}
	d := time.Until(dl)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	if *t == nil {
		*t = time.NewTimer(d)
	} else {
		(*t).Reset(d)
	}
	select {
	case <-ch:
		(*t).Stop()
		return nil
	case <-(*t).C:
		return nil // the loop sees the deadline passed
	}
}

func (c *conn) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m := min(len(p)-n, writeChunk)
		if err := c.write(p[n : n+m]); err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// write queues one chunk, waiting while MaxOutbound is queued.
func (c *conn) write(p []byte) error {
	b := make([]byte, len(p)) // the loop sends it later; p is the caller's
	copy(b, p)
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return c.opError("write", net.ErrClosed)
		case c.dead:
			c.mu.Unlock()
			return c.opError("write", syscall.EPIPE)
		case c.outBytes == 0 || c.outBytes+len(b) <= c.l.cfg.MaxOutbound:
			c.out = append(c.out, b)
			c.outBytes += len(b)
			kick := !c.scheduled
			c.scheduled = true
			c.mu.Unlock()
			if kick {
				c.kick()
			}
			return nil
		}
		dl := c.wdl
		c.mu.Unlock()
		if !dl.IsZero() && !time.Now().Before(dl) {
			return c.opError("write", os.ErrDeadlineExceeded)
		}
		if err := wait(c.writable, dl, &c.wtimer); err != nil {
			return c.opError("write", err)
		}
	}
}

// kick queues a flush on the loop. The loop's queue is shared by every
// connection; when it is full, the flush is tried again shortly (a writer
// waits meanwhile, within its deadline, once MaxOutbound is queued).
func (c *conn) kick() {
	switch err := c.l.loop.Do(c.flushF); err {
	case nil:
	case zmq.ErrFull:
		time.AfterFunc(minRetryWait, c.kick)
	default: // the loop stopped: nothing will be sent
		c.mu.Lock()
		c.dead, c.eof, c.scheduled = true, true, false
		c.dropOut()
		c.mu.Unlock()
		signal(c.readable)
		signal(c.writable)
	}
}

// flush hands what was written to libzmq, in order, then the close if one
// is queued. Loop goroutine.
func (c *conn) flush() {
	for {
		c.mu.Lock()
		if c.dead && !c.closeQueued {
			c.scheduled = false
			c.mu.Unlock()
			return
		}
		if c.outHead == len(c.out) {
			c.out, c.outHead = c.out[:0], 0
			if !c.closeQueued {
				c.scheduled = false
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			// libzmq closes once it has written the rest. The close is a
			// message like the others: at SndHWM it is refused too, and
			// tried again.
			err := c.l.sock.SendNow(c.id, nil)
			if zmq.IsAgain(err) {
				c.sendFailed(err)
				return
			}
			c.mu.Lock()
			c.dead, c.scheduled, c.closeQueued = true, false, false
			c.mu.Unlock()
			c.l.forget(c, true)
			return
		}
		b := c.out[c.outHead]
		c.mu.Unlock()
		if err := c.l.sock.SendNow(c.id, b); err != nil {
			c.sendFailed(err)
			return
		}
		c.retryWait = 0
		c.mu.Lock()
		c.out[c.outHead] = nil
		c.outHead++
		c.outBytes -= len(b)
		c.mu.Unlock()
		signal(c.writable)
	}
}

// sendFailed: at SndHWM, try again later; any other failure means libzmq
// no longer knows the peer. Loop goroutine.
func (c *conn) sendFailed(err error) {
	if zmq.IsAgain(err) {
		c.l.again.Add(1)
		c.retryWait = min(max(2*c.retryWait, minRetryWait), maxRetryWait)
		time.AfterFunc(c.retryWait, c.kick) // scheduled stays true
		return
	}
	c.l.lost.Add(1)
	c.l.forget(c, true)
	c.mu.Lock()
	c.dead, c.eof, c.scheduled, c.closeQueued = true, true, false, false
	c.dropOut()
	c.mu.Unlock()
	signal(c.readable)
	signal(c.writable)
}

// Close closes the connection after what was written is sent. It never
// waits: the loop sends the close when the writes before it are out.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.dropIn()
	kick := false
	switch {
	case c.dead:
	case c.linger:
		c.lingering = true
		time.AfterFunc(c.l.cfg.LingerCloseTime, c.endLinger)
	default:
		c.closeQueued = true
		kick = !c.scheduled
		c.scheduled = true
	}
	c.mu.Unlock()
	signal(c.readable)
	signal(c.writable)
	if kick {
		c.kick()
	}
	return nil
}

// CloseAfterResponse makes the next Read report end of stream, so that
// the server closes the connection once the response being written is
// out (frontend.AfterResponseCloser: a worker's close frame).
func (c *conn) CloseAfterResponse() {
	c.mu.Lock()
	c.ending = true
	c.mu.Unlock()
	signal(c.readable)
}

// LingerOnClose makes Close discard what the client still sends, for
// Config.LingerCloseTime or LingerCloseBytes, before it closes: a client
// told 413 in the middle of its upload reads the answer instead of a reset
// (frontend.LingeringCloser). ZMQ_STREAM cannot half-close, so the client
// sees the end only then.
func (c *conn) LingerOnClose() {
	c.mu.Lock()
	c.linger = true
	c.mu.Unlock()
}

// endLinger queues the close of a lingering connection at
// LingerCloseTime.
func (c *conn) endLinger() {
	c.mu.Lock()
	kick := c.queueClose()
	c.mu.Unlock()
	if kick {
		c.kick()
	}
}

// queueClose ends a linger: the close is sent once the writes before it
// are. It reports whether a flush must be started; c.mu held.
func (c *conn) queueClose() bool {
	if !c.lingering {
		return false
	}
	c.lingering = false
	if c.dead {
		return false
	}
	c.closeQueued = true
	start := !c.scheduled
	c.scheduled = true
	return start
}

func (c *conn) LocalAddr() net.Addr  { return c.l.addr }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.mu.Unlock()
	signal(c.readable) // a waiting Read looks at the new deadline
	return nil
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = t
	c.mu.Unlock()
	signal(c.writable)
	return nil
}

// opError wraps err as a TCP connection's would be: a deadline reads as a
// net.Error whose Timeout is true.
func (c *conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.l.addr, Addr: c.remote, Err: err}
}
