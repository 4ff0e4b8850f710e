package frontend

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// listener hands fasthttp client connections wrapped in clientConn.
// slack is a sixteenth of the shortest timeout the server sets.
type listener struct {
	net.Listener
	srv *Server
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.srv.wrap(c), nil
}

// clientConn saves a read system call and most deadline updates per
// keep-alive request, and formats the client's address once per connection
// instead of once per request.
//
// With ReduceMemoryUsage, fasthttp returns its read buffer to a pool while a
// connection is idle, and waits for the next request with a one-byte Read;
// the rest of the request then takes a second read. Here that one-byte Read
// waits for the socket to be readable without holding any buffer, then reads
// everything that arrived into a pooled buffer, which the following Reads
// drain. Idle connections keep their small footprint (bench/harness
// --scenario idle) and a request costs one read, as without the option.
//
// fasthttp sets three deadlines per request (idle wait, request read,
// response write), each a runtime timer update. Here a deadline is only
// recorded, and put on the socket when the socket is read or written: the
// read deadline of a request that arrived whole is never needed. A deadline
// later than the one on the socket by at most a sixteenth of the shortest
// timeout is not re-armed, so a timeout may fire up to that much early
// (with the default 30 s timeouts, a 90 s idle timeout after 88 s), never
// late. fasthttp calls SetDeadline only when it hands the connection over
// (hijack, another protocol); from then on every deadline goes to the
// socket at once, as the new owner may expect a call from one goroutine to
// interrupt a Read blocked in another.
type clientConn struct {
	net.Conn
	raw     syscall.RawConn
	readFD  func(fd uintptr) bool // c.fill, bound once
	ahead   *[]byte               // pooled; bytes read and not yet returned
	off     int
	fillN   int
	fillErr error
	ip      []byte // textual client IP, made on first use

	rd, wd   deadline
	slack    time.Duration
	handover bool // SetDeadline was called: deadlines are set at once
	closing  bool // closeAfterResponse was called
	linger   bool // lingerOnClose was called

	set    *connSet     // the server's open connections (handoff.go)
	idle   atomic.Int32 // stBusy, stWaiting, ... (handoff.go)
	onWait func()       // tests: called as Read starts waiting for a request
}

// lingerOnClose makes Close read and discard what the client still sends,
// for a while, before it closes: a client told 413 in the middle of its
// upload would otherwise get a reset on its next write, and may never read
// the answer (RFC 9112 section 9.6; nginx's lingering_close).
func (c *clientConn) lingerOnClose() { c.linger = true }

// Lingering bounds: what a refused upload may still send, and for how long.
const (
	lingerBytes = 4 << 20
	lingerTime  = 2 * time.Second
)

func (c *clientConn) Close() error {
	if c.set != nil {
		c.set.remove(c)
	}
	if c.linger {
		c.linger = false
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			tc.CloseWrite()
			tc.SetReadDeadline(time.Now().Add(lingerTime))
			io.CopyN(io.Discard, tc, lingerBytes)
		}
	}
	return c.Conn.Close()
}

// closeAfterResponse makes the next read report end of stream, so that
// fasthttp closes the connection once the response being written is
// flushed: a worker's close frame after a streamed response.
func (c *clientConn) closeAfterResponse() { c.closing = true }

// deadline is one direction's deadline: the one asked for, the one on the
// socket.
type deadline struct{ want, armed time.Time }

// due reports whether the wanted deadline must be put on the socket. A
// deadline set now for a timeout d is later than now by d, and slack is at
// most d/16, so the armed deadline kept instead is still ahead.
func (d *deadline) due(slack time.Duration) bool {
	switch {
	case d.want.Equal(d.armed):
		return false
	case d.want.IsZero() || d.armed.IsZero() || d.want.Before(d.armed):
		return true
	}
	return d.want.Sub(d.armed) > slack
}

func (c *clientConn) SetReadDeadline(t time.Time) error {
	if c.handover {
		return c.Conn.SetReadDeadline(t)
	}
	c.rd.want = t
	return nil
}

func (c *clientConn) SetWriteDeadline(t time.Time) error {
	if c.handover {
		return c.Conn.SetWriteDeadline(t)
	}
	c.wd.want = t
	return nil
}

func (c *clientConn) SetDeadline(t time.Time) error {
	c.handover = true
	c.rd, c.wd = deadline{}, deadline{}
	return c.Conn.SetDeadline(t)
}

func (c *clientConn) armRead() error {
	if c.handover || !c.rd.due(c.slack) {
		return nil
	}
	c.rd.armed = c.rd.want
	return c.Conn.SetReadDeadline(c.rd.want)
}

func (c *clientConn) Write(p []byte) (int, error) {
	if err := c.armWrite(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *clientConn) armWrite() error {
	if c.handover || !c.wd.due(c.slack) {
		return nil
	}
	c.wd.armed = c.wd.want
	return c.Conn.SetWriteDeadline(c.wd.want)
}

// writeVector writes v, as Write writes one buffer: in one writev on a
// TCP connection.
func (c *clientConn) writeVector(v *net.Buffers) (int64, error) {
	if err := c.armWrite(); err != nil {
		return 0, err
	}
	return v.WriteTo(c.Conn)
}

// ready reports whether bytes wait to be read: read ahead here, or in the
// socket's receive queue (SIOCINQ).
func (c *clientConn) ready() bool {
	if c.ahead != nil {
		return true
	}
	n := 0
	c.raw.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	return n > 0
}

// aheadSize holds a typical request head and small body in one read.
const aheadSize = 4 << 10

var aheadPool = sync.Pool{New: func() any { b := make([]byte, aheadSize); return &b }}

func newClientConn(c net.Conn, slack time.Duration) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	cc := &clientConn{Conn: c, raw: raw, slack: slack}
	cc.readFD = cc.fill
	return cc
}

func (c *clientConn) Read(p []byte) (int, error) {
	if c.closing {
		return 0, io.EOF
	}
	if c.ahead != nil {
		return c.drain(p), nil
	}
	if err := c.armRead(); err != nil {
		return 0, err
	}
	if len(p) != 1 || c.handover {
		// A hijacked connection (WebSocket) is never between requests.
		return c.Conn.Read(p)
	}
	// fasthttp's wait for the next request on a keep-alive connection:
	// nothing is buffered, so the connection may go to another process.
	for tried := false; ; {
		c.fillN, c.fillErr = 0, nil
		if c.onWait != nil {
			c.onWait()
		}
		c.idle.Store(stWaiting)
		if !tried && c.handingOff() { // after the Store (handoff.go)
			tried = true
			c.endWait()
			if c.handOff() {
				return 0, io.EOF // fasthttp closes its descriptor; the other process has one
			}
			continue // the hand-off failed: wait on, under our own deadline
		}
		err := c.raw.Read(c.readFD)
		if c.endWait() && c.fillN == 0 && c.fillErr == nil {
			continue // woken by HandOff, with no request arrived: hand off above
		}
		if err != nil {
			return 0, c.opError(err) // a deadline, or the connection closed
		}
		break
	}
	if c.fillErr != nil {
		return 0, c.opError(c.fillErr)
	}
	if c.fillN == 0 {
		c.release()
		return 0, io.EOF
	}
	return c.drain(p), nil
}

// fill runs inside RawConn.Read: false means "not readable yet", and the
// buffer is taken only once data is there.
func (c *clientConn) fill(fd uintptr) bool {
	if c.ahead == nil {
		c.ahead = aheadPool.Get().(*[]byte)
	}
	for {
		n, err := syscall.Read(int(fd), *c.ahead)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			c.release()
			return false
		case err != nil:
			c.fillErr = err
			c.release()
		default:
			c.fillN, c.off = n, 0
		}
		return true
	}
}

func (c *clientConn) drain(p []byte) int {
	n := copy(p, (*c.ahead)[c.off:c.fillN])
	c.off += n
	if c.off == c.fillN {
		c.release()
	}
	return n
}

func (c *clientConn) release() {
	if c.ahead != nil {
		aheadPool.Put(c.ahead)
		c.ahead = nil
	}
}

// opError wraps err as net.Conn.Read would, so that a timeout still reads
// as one (net.Error's Timeout).
func (c *clientConn) opError(err error) error {
	if errors.Is(err, io.EOF) {
		return err
	}
	return &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// clientIP is the textual IP of the client, without allocating after the
// first request of the connection.
func (c *clientConn) clientIP() []byte {
	if c.ip == nil {
		c.ip = appendIP(make([]byte, 0, len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), c.RemoteAddr())
	}
	return c.ip
}
