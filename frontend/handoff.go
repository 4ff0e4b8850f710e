package frontend

import (
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Handing idle client connections to another process (the gateway
// upgrade, cmd/nanogate/upgrade.go). Between two requests a keep-alive
// connection has no state but its socket: nothing is buffered when
// fasthttp waits for the next request with its one-byte Read
// (clientConn.Read). There, a connection in hand-off mode passes a
// duplicate of its descriptor to the new process, which serves it from
// then on, and reports end of stream to fasthttp, which closes its own
// descriptor: the TCP connection itself stays open, in the other process.
// The client sees nothing; a wrk connection never fails.
//
// A connection already waiting is woken for this by a read deadline in
// the past. The wake-up and the connection's own goroutine agree through
// clientConn.idle, so that the deadline can only interrupt the wait for a
// request, never the reading of one: a request that arrives at that very
// moment is served here, and the connection goes over after it.
//
// No connection is missed: HandOff stores send, then looks for waiting
// connections; a connection stores stWaiting, then looks for send. With
// sequentially consistent atomics one of the two sees the other. (The
// connection looked for send before it stored stWaiting once: a HandOff
// in between found it busy, and it then waited out its idle timeout.)
//
// TLS connections are not handed over (their session keys live in this
// process); they finish with "Connection: close" as before. Nor are
// hijacked ones (WebSocket): they never wait for a request.

// Connection states in clientConn.idle.
const (
	stBusy    int32 = iota // reading or serving a request
	stWaiting              // waiting for the next request, nothing buffered
	stWaking               // a hand-off is putting a deadline on the wait
	stWoken                // the deadline is on the socket
)

// connSet is the server's open clientConns, for HandOff.
type connSet struct {
	mu    sync.Mutex
	conns map[*clientConn]struct{}
	send  atomic.Pointer[func(*os.File) error] // set by HandOff
}

func (s *connSet) add(c *clientConn) {
	s.mu.Lock()
	if s.conns == nil {
		s.conns = make(map[*clientConn]struct{})
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *connSet) remove(c *clientConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// HandOff passes every plain TCP client connection, as soon as it waits
// for its next request, to send (a duplicate of its descriptor; send
// passes it on, and the caller closes it), and closes it here. Those
// waiting now go at once. A connection whose send fails stays here.
func (s *Server) HandOff(send func(*os.File) error) {
	s.conns.send.Store(&send)
	s.conns.mu.Lock()
	defer s.conns.mu.Unlock()
	for c := range s.conns.conns {
		if c.idle.CompareAndSwap(stWaiting, stWaking) {
			c.Conn.SetReadDeadline(time.Unix(1, 0))
			c.idle.Store(stWoken)
		}
	}
}

// Adopt serves a client connection handed over by another process
// (HandOff there), as if this server had accepted it. It returns at once.
func (s *Server) Adopt(c net.Conn) {
	go s.srv.ServeConn(s.wrap(c))
}

// wrap makes c a clientConn of this server.
func (s *Server) wrap(c net.Conn) net.Conn {
	cc := newClientConn(c, s.slack)
	if cc, ok := cc.(*clientConn); ok {
		cc.set = &s.conns
		s.conns.add(cc)
	}
	return cc
}

// handingOff reports whether the server is handing connections off.
func (c *clientConn) handingOff() bool {
	return c.set != nil && c.set.send.Load() != nil
}

// handOff passes c on if the server is handing connections off; it
// reports whether c is now the other process's.
func (c *clientConn) handOff() bool {
	if c.set == nil {
		return false
	}
	send := c.set.send.Load()
	if send == nil {
		return false
	}
	tc, ok := c.Conn.(*net.TCPConn)
	if !ok {
		return false
	}
	f, err := tc.File() // a duplicate descriptor of the same socket
	if err != nil {
		return false
	}
	defer f.Close()
	return (*send)(f) == nil
}

// endWait ends the wait for a request; woken reports whether HandOff put a
// deadline on it, which is then taken off again: the connection's own
// deadline goes back on the socket.
func (c *clientConn) endWait() (woken bool) {
	if c.idle.CompareAndSwap(stWaiting, stBusy) {
		return false
	}
	for c.idle.Load() != stWoken {
		runtime.Gosched() // HandOff is between its two steps
	}
	c.idle.Store(stBusy)
	c.rd.armed = c.rd.want
	c.Conn.SetReadDeadline(c.rd.want)
	return true
}
