package sp

import (
	"context"
	"errors"
	"net"
	"time"
)

// Sender is one PUSH connection that writes each message before Send
// returns, for a process that sends a few frames and exits (nanogate push,
// the SDK's Pusher): it must know that its frame has left before it goes,
// where Push queues for a writer goroutine.
type Sender struct {
	nc   net.Conn
	ipc  bool
	gone chan struct{} // closed when the connection has ended
	buf  []byte
}

// ErrPeerGone: the PULL peer closed the connection.
const ErrPeerGone = Error("sp: peer closed the connection")

// DialSender connects to the PULL socket at url and handshakes, trying
// again with growing pauses (as Push redials) until it succeeds or ctx is
// done; the last error is returned then.
func DialSender(ctx context.Context, url string) (*Sender, error) {
	a, err := addrOf(url)
	if err != nil {
		return nil, err
	}
	wait := redialMin
	for {
		var d net.Dialer
		nc, err := d.DialContext(ctx, a.Network, a.Address)
		if err == nil {
			if err = handshake(nc, ProtoPush, ProtoPull); err == nil {
				s := &Sender{nc: nc, ipc: a.IPC, gone: make(chan struct{})}
				go s.watch()
				return s, nil
			}
			nc.Close()
			if errors.Is(err, ErrBadProtocol) || errors.Is(err, ErrBadHeader) {
				return nil, err // not a PULL socket: trying again will not help
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		wait = min(2*wait, redialMax)
	}
}

// watch reads until the connection ends: a PULL peer sends nothing, so
// this learns that the peer closed it before a write is lost to it (a TCP
// write to a closed peer succeeds once). Keeping the receive buffer empty
// also makes Close send FIN, not RST, so what was written is delivered.
func (s *Sender) watch() {
	var b [1]byte
	s.nc.Read(b[:])
	close(s.gone)
}

// Send writes msg whole into the kernel's buffer before it returns, or
// fails by deadline. After a failure the connection holds at most part of
// the message, which the peer discards with the connection: the caller
// closes it and may send the message again on a new one.
func (s *Sender) Send(msg []byte, deadline time.Time) error {
	select {
	case <-s.gone:
		return ErrPeerGone
	default:
	}
	s.buf = appendFrame(s.buf[:0], s.ipc, nil, msg)
	s.nc.SetWriteDeadline(deadline)
	_, err := s.nc.Write(s.buf)
	if cap(s.buf) > maxSpare {
		s.buf = nil
	}
	return err
}

// Close closes the connection; what Send wrote is still delivered.
func (s *Sender) Close() error {
	err := s.nc.Close()
	<-s.gone
	return err
}
