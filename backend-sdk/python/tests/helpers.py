"""Test helpers: paths of the repository's golden vectors, and a REQ peer
that speaks the SP wire by hand (as the gateway does), for real sockets."""

import os
import shutil
import socket
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
sys.path.insert(0, PKG)
REPO = os.path.abspath(os.path.join(PKG, "..", ".."))
SESSION_TESTDATA = os.path.join(REPO, "session", "testdata")
FRAMES_TESTDATA = os.path.join(REPO, "protocol", "frames", "testdata")

from nanogate import sp  # noqa: E402


def short_dir(test):
    """A temporary directory with a short path (unix socket paths are
    limited to 107 bytes), removed when the test ends."""
    d = tempfile.mkdtemp(prefix="ngpy", dir="/tmp")
    test.addCleanup(shutil.rmtree, d, True)
    return d


def free_tcp_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "tcp://127.0.0.1:%d" % port


class Peer:
    """One SP connection from the test's side: handshake as proto, then
    whole messages; recv has a timeout so that a test never hangs."""

    def __init__(self, sock, ipc, proto, peer_proto, timeout=10.0):
        self.sock, self.ipc = sock, ipc
        sock.settimeout(timeout)
        sock.sendall(sp.conn_header(proto))
        sp.check_header(self._read(8), peer_proto)

    @classmethod
    def dial(cls, url, proto, peer_proto):
        addr = sp.parse_url(url)
        s = socket.socket(addr.family, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(addr.address)
        return cls(s, addr.ipc, proto, peer_proto)

    def _read(self, n):
        b = bytearray()
        while len(b) < n:
            chunk = self.sock.recv(n - len(b))
            if not chunk:
                raise EOFError("peer closed")
            b += chunk
        return bytes(b)

    def send(self, payload):
        self.sock.sendall(sp.frame_prefix(self.ipc, len(payload)) + payload)

    def send_req(self, rid, body):
        self.send(struct.pack(">I", rid | 0x80000000) + body)

    def recv(self):
        p = self._read(9 if self.ipc else 8)
        return self._read(sp.parse_prefix(p, self.ipc, 1 << 30))

    def recv_rep(self):
        msg = self.recv()
        return struct.unpack(">I", msg[:4])[0], msg[4:]

    def close(self):
        self.sock.close()
