"""The SP wire protocol (nanomsg's scalability protocols) over tcp:// and
ipc://, byte-compatible with libnanomsg, NNG, mangos and nanogate's own
internal/sp.

Connection header, both directions, before anything else (8 bytes)::

    0x00 'S' 'P' 0x00  protocol (uint16, big endian)  0x0000

REQ is 0x30, REP 0x31, PUSH 0x50, PULL 0x51; each side checks that the other
speaks its peer protocol. Then messages; over TCP::

    size (uint64, big endian)  payload (size bytes)

and over IPC the same preceded by one byte 0x01. A REQ/REP payload starts
with a backtrace of 32-bit big-endian words, the last of which (the REQ's
request id) has its high bit set; a REP returns it unchanged in front of its
reply. PUSH/PULL payloads carry no header.

This module is blocking and thread based (the WSGI server's); the asyncio
side (the ASGI server's) reuses its framing helpers.
"""

import errno
import os
import socket
import struct
import threading

PROTO_REQ = 0x30
PROTO_REP = 0x31
PROTO_PUSH = 0x50
PROTO_PULL = 0x51

HANDSHAKE_TIMEOUT = 5.0
MAX_HOPS = 8  # as nanomsg's REP: a longer backtrace is refused
DEFAULT_MAX_RECV = 64 << 20

# The drain notice (docs/PROTOCOL.md, Draining): a reply to request id
# 0x80000000, which nanogate never gives a request, with this body.
DRAIN_HEADER = b"\x80\x00\x00\x00"
DRAIN_BODY = b"nanogate:draining"

_size = struct.Struct(">Q")


class ProtocolError(Exception):
    """The peer broke the SP wire protocol; the connection is dropped."""


class Addr:
    """A parsed endpoint URL."""

    __slots__ = ("url", "family", "address", "ipc")

    def __init__(self, url, family, address, ipc):
        self.url, self.family, self.address, self.ipc = url, family, address, ipc

    def __repr__(self):
        return "Addr(%r)" % self.url


def parse_url(url):
    """Parse tcp://host:port or ipc:///path (ipc://relative too, as
    nanomsg does); raise ValueError for anything else."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("%r is not a URL (tcp://host:port or ipc:///path)" % url)
    if scheme == "ipc":
        if not rest:
            raise ValueError("%s: empty path" % url)
        return Addr(url, socket.AF_UNIX, rest, True)
    if scheme == "tcp":
        host, colon, port = rest.rpartition(":")
        if not colon or not (port.isascii() and port.isdigit()) or int(port) > 65535:
            raise ValueError("%s: want tcp://host:port" % url)
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if host in ("*", ""):
            host = "0.0.0.0"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return Addr(url, family, (host, int(port)), False)
    raise ValueError("%s: scheme %r not served (tcp:// and ipc:// are)" % (url, scheme))


def frame_prefix(ipc, size):
    """The transport framing in front of a payload of size bytes."""
    if ipc:
        return b"\x01" + _size.pack(size)
    return _size.pack(size)


def conn_header(proto):
    return b"\x00SP\x00" + struct.pack(">H", proto) + b"\x00\x00"


def check_header(h, peer):
    if len(h) != 8 or h[:4] != b"\x00SP\x00" or h[6:] != b"\x00\x00":
        raise ProtocolError("peer sent a bad SP connection header %r" % bytes(h))
    got = struct.unpack(">H", h[4:6])[0]
    if got != peer:
        raise ProtocolError("peer speaks protocol 0x%x, want 0x%x" % (got, peer))


def parse_prefix(b, ipc, max_size):
    """Read the payload size from a transport prefix (8 or 9 bytes)."""
    if ipc:
        if b[0] != 1:
            raise ProtocolError("ipc message type %d, want 1" % b[0])
        b = b[1:]
    size = _size.unpack(b)[0]
    if size > max_size:
        raise ProtocolError("message of %d bytes over the limit %d" % (size, max_size))
    return size


def backtrace_len(msg):
    """Length of the REQ/REP backtrace at the start of msg: up to and
    including the first word with the high bit set."""
    for n in range(0, MAX_HOPS * 4, 4):
        if n + 4 > len(msg):
            raise ProtocolError("message shorter than its backtrace")
        if msg[n] & 0x80:
            return n + 4
    raise ProtocolError("backtrace longer than %d hops" % MAX_HOPS)


def listen(addr, backlog=512):
    """Bind addr. A stale IPC socket file left by a dead process is removed
    first, as libnanomsg does, but only when nothing answers on it."""
    s = socket.socket(addr.family, socket.SOCK_STREAM)
    try:
        if not addr.ipc:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr.address)
        except OSError as e:
            if not addr.ipc or e.errno != errno.EADDRINUSE:
                raise
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(addr.address)
            except OSError:
                os.unlink(addr.address)
                s.bind(addr.address)
            else:
                raise
            finally:
                probe.close()
        s.listen(backlog)
        return s
    except BaseException:
        s.close()
        raise


def connect(addr, timeout=HANDSHAKE_TIMEOUT):
    s = socket.socket(addr.family, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(addr.address)
        return s
    except BaseException:
        s.close()
        raise


class Conn:
    """One SP connection: buffered reads by one reader thread, whole-message
    writes (one sendall each) from any thread."""

    def __init__(self, sock, ipc, max_recv=DEFAULT_MAX_RECV):
        if not ipc:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.ipc = ipc
        self.max_recv = max_recv
        self._prefix_len = 9 if ipc else 8
        self._r = None
        self._wlock = threading.Lock()
        self.closed = False
        self.ready = False  # handshake done: messages may be sent

    def handshake(self, self_proto, peer_proto, timeout=HANDSHAKE_TIMEOUT):
        self.sock.settimeout(timeout)
        self.sock.sendall(conn_header(self_proto))
        h = b""
        while len(h) < 8:
            chunk = self.sock.recv(8 - len(h))
            if not chunk:
                raise ProtocolError("peer closed during the handshake")
            h += chunk
        check_header(h, peer_proto)
        self.sock.settimeout(None)
        self._r = self.sock.makefile("rb", buffering=65536)
        self.ready = True

    def recv(self):
        """The next message's payload, or None when the peer closed."""
        r = self._r
        p = r.read(self._prefix_len)
        if len(p) < self._prefix_len:
            if p:
                raise ProtocolError("connection closed inside a message")
            return None
        size = parse_prefix(p, self.ipc, self.max_recv)
        msg = r.read(size)
        if len(msg) < size:
            raise ProtocolError("connection closed inside a message")
        return msg

    def send(self, *parts):
        """Send one message made of parts (bytes-like), in one sendall."""
        size = 0
        for p in parts:
            size += len(p)
        data = b"".join((frame_prefix(self.ipc, size),) + parts)
        with self._wlock:
            self.sock.sendall(data)

    def stop_reading(self):
        """Wake the reader with an end of file; writes still work."""
        try:
            self.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._r is not None:
            try:
                self._r.close()
            except OSError:
                pass
        self.sock.close()
