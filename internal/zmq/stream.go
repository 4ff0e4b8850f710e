//go:build !nozmq

package zmq

import (
	"errors"
	"syscall"

	zmq4 "github.com/pebbe/zmq4"
)

// peerAddress is libzmq's message property naming the TCP peer's IP
// (ZMQ_MSG_PROPERTY_PEER_ADDRESS; zmq_msg_gets(3)). libzmq's raw engine
// sets it on every message of a ZMQ_STREAM peer, the identity frame
// included.
const peerAddress = "Peer-Address"

// StreamSocket makes a ZMQ_STREAM socket (raw TCP peers) whose handler gets
// [identity, bytes] for data and, for the notifications libzmq sends when a
// peer connects and when it disconnects (ZMQ_STREAM_NOTIFY, on by
// default), [identity, "", peer IP]: ZMQ_STREAM names no peer otherwise,
// and a front end needs the client's address (X-Forwarded-For). Sending
// [identity, ""] closes that peer's connection once what was queued for it
// is written; no notification follows a close made this way.
//
// known reports, on the loop's goroutine, whether the handler already
// knows an identity: the peer's address is looked up (zmq_msg_gets, a cgo
// call and a map) only for messages of identities it does not, which a
// connect notification's is. Its bytes are the loop's: do not keep them.
func (l *Loop) StreamSocket(o Options, h Handler, known func(id []byte) bool) (*Socket, error) {
	s, err := l.Socket(Stream, o, h)
	if err != nil {
		return nil, err
	}
	s.known = known
	return s, nil
}

// recvMessage receives one whole message; for a StreamSocket it reads the
// two frames itself, so that the data frame's metadata (libzmq puts it on
// both) is read, when needed, before libzmq frees the frame: measured
// under load, the lookup on every message cost about 6% of the gateway's
// CPU.
func (s *Socket) recvMessage() ([][]byte, error) {
	first, err := s.s.RecvBytes(zmq4.DONTWAIT)
	if err != nil {
		return nil, err // EAGAIN or EINTR: nothing of a message was taken
	}
	if s.known == nil {
		return s.recvRest([][]byte{first})
	}
	id := first
	// The rest of a message is there once its first frame is (ZeroMQ
	// messages are atomic); ZMQ_STREAM's are always two frames.
	if s.known(id) {
		data, err := s.recvMore()
		if err != nil {
			return nil, err
		}
		return [][]byte{id, data}, nil
	}
	var data []byte
	var md map[string]string
	for {
		data, md, err = s.s.RecvBytesWithMetadata(zmq4.DONTWAIT, peerAddress)
		if !isInterrupted(err) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return [][]byte{id, data, []byte(md[peerAddress])}, nil
	}
	return [][]byte{id, data}, nil
}

// recvRest appends the frames after a message's first to parts.
func (s *Socket) recvRest(parts [][]byte) ([][]byte, error) {
	for {
		more, err := s.s.GetRcvmore()
		for isInterrupted(err) {
			more, err = s.s.GetRcvmore()
		}
		if err != nil || !more {
			return parts, err
		}
		p, err := s.recvMore()
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
}

// recvMore receives a frame after a message's first. It is already there
// (messages are atomic), so a signal interrupting the call is only retried:
// returning would leave the frame to be taken for the next message's first.
func (s *Socket) recvMore() ([]byte, error) {
	for {
		b, err := s.s.RecvBytes(zmq4.DONTWAIT)
		if !isInterrupted(err) {
			return b, err
		}
	}
}

func isInterrupted(err error) bool { return errors.Is(err, zmq4.Errno(syscall.EINTR)) }
