package sp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Protocol numbers of the SP header.
const (
	ProtoReq uint16 = 0x30
	ProtoRep uint16 = 0x31
)

// Error is the type of this package's sentinel errors.
type Error string

func (e Error) Error() string { return string(e) }

const (
	ErrBadHeader   = Error("sp: peer sent a bad connection header")
	ErrBadProtocol = Error("sp: peer speaks the wrong protocol")
	ErrTooLong     = Error("sp: message over the size limit")
	ErrBadFrame    = Error("sp: malformed message")
	ErrClosed      = Error("sp: closed")
)

const handshakeTimeout = 5 * time.Second

// Addr is a parsed endpoint URL.
type Addr struct {
	Network string // "tcp" or "unix"
	Address string
	IPC     bool
}

// ParseURL accepts tcp://host:port and ipc:///path (ipc://relative/path
// too, as nanomsg does). ok is false for any other scheme.
func ParseURL(raw string) (a Addr, ok bool, err error) {
	scheme, rest, found := strings.Cut(raw, "://")
	if !found {
		return a, false, fmt.Errorf("sp: %q is not a URL", raw)
	}
	switch scheme {
	case "tcp":
		u, err := url.Parse(raw)
		if err != nil {
			return a, true, err
		}
		host := u.Host
		// mangos and nanomsg accept "*" for every interface.
		if strings.HasPrefix(host, "*:") {
			host = host[1:]
		}
		_, port, err := net.SplitHostPort(host)
		if err != nil {
			return a, true, fmt.Errorf("sp: %s: %w", raw, err)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return a, true, fmt.Errorf("sp: %s: bad port %q", raw, port)
		}
		return Addr{Network: "tcp", Address: host}, true, nil
	case "ipc":
		if rest == "" {
			return a, true, fmt.Errorf("sp: %s: empty path", raw)
		}
		return Addr{Network: "unix", Address: rest, IPC: true}, true, nil
	}
	return a, false, nil
}

// Supported reports whether this package serves raw.
func Supported(raw string) bool {
	_, ok, err := ParseURL(raw)
	return ok && err == nil
}

// handshake exchanges connection headers: both sides send, then both read.
func handshake(c net.Conn, self, peer uint16) error {
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	defer c.SetDeadline(time.Time{})
	h := [8]byte{0, 'S', 'P', 0, byte(self >> 8), byte(self), 0, 0}
	if _, err := c.Write(h[:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return err
	}
	if h[0] != 0 || h[1] != 'S' || h[2] != 'P' || h[3] != 0 || h[6] != 0 || h[7] != 0 {
		return ErrBadHeader
	}
	if binary.BigEndian.Uint16(h[4:6]) != peer {
		return ErrBadProtocol
	}
	return nil
}

// appendFrame appends one message: transport framing, the backtrace words
// in hdr, then body.
func appendFrame(dst []byte, ipc bool, hdr, body []byte) []byte {
	return append(appendFrameHead(dst, ipc, hdr, len(body)), body...)
}

// appendFrameHead appends the transport framing and hdr of a message whose
// body of n bytes follows separately.
func appendFrameHead(dst []byte, ipc bool, hdr []byte, n int) []byte {
	if ipc {
		dst = append(dst, 1)
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(hdr)+n))
	return append(dst, hdr...)
}

// frameReader reads message sizes; bodies are read by the caller from r.
type frameReader struct {
	r   io.Reader
	ipc bool
	max int
	buf [9]byte
}

// next returns the size of the next message.
func (f *frameReader) next() (int, error) {
	n := 8
	if f.ipc {
		n = 9
	}
	if _, err := io.ReadFull(f.r, f.buf[:n]); err != nil {
		return 0, err
	}
	b := f.buf[:n]
	if f.ipc {
		if b[0] != 1 {
			return 0, ErrBadFrame
		}
		b = b[1:]
	}
	size := binary.BigEndian.Uint64(b)
	if size > uint64(f.max) {
		return 0, ErrTooLong
	}
	return int(size), nil
}

var errShortPayload = errors.New("sp: message shorter than its header")

// The drain notice: a REP server that is going away sends it, unasked, on
// each connection, as a reply to request id 0x80000000 with this body.
// nanogate's REQ client gives no request that id (a slot's generation
// starts at 1), so the notice cannot be taken for a reply; it stops
// sending new requests on that connection, and the ones in flight finish.
// Other REQ peers (libnanomsg, NNG, mangos) drop it as a reply to a
// request they did not send.
const drainID = 1 << 31

var (
	drainHeader = [4]byte{0x80, 0, 0, 0}
	drainBody   = []byte("nanogate:draining")
)
