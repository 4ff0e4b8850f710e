"""The threaded REP server on real sockets, against a REQ peer that speaks
the wire by hand as the gateway does: pipelining with replies out of
order, bind and dial on ipc:// and tcp://, load shedding, the drain notice."""

import os
import socket
import threading
import time
import unittest

from helpers import Peer, free_tcp_url, short_dir

from nanogate import sp
from nanogate.rep import BUSY_REPLY, RepServer


class Gate:
    """Handler that holds requests whose body starts with b"wait" until
    released, and echoes the rest."""

    def __init__(self):
        self.release = threading.Event()
        self.waiting = threading.Semaphore(0)

    def __call__(self, msg, start):
        body = bytes(msg[start:])
        if body.startswith(b"wait"):
            self.waiting.release()
            self.release.wait(10)
        if body == b"raise":
            raise RuntimeError("boom")
        return b"re:" + body


class TestRep(unittest.TestCase):
    def server(self, handler, **kw):
        s = RepServer(handler, **kw)
        self.addCleanup(s.close)
        return s

    def check_out_of_order(self, url):
        gate = Gate()
        s = self.server(gate, threads=4)
        s.bind(url)
        p = Peer.dial(url, sp.PROTO_REQ, sp.PROTO_REP)
        self.addCleanup(p.close)
        p.send_req(1, b"wait-1")
        self.assertTrue(gate.waiting.acquire(timeout=10))
        p.send_req(2, b"two")
        p.send_req(3, b"x" * 300000)
        got = [p.recv_rep(), p.recv_rep()]
        self.assertEqual(got, [(0x80000002, b"re:two"), (0x80000003, b"re:" + b"x" * 300000)])
        gate.release.set()
        self.assertEqual(p.recv_rep(), (0x80000001, b"re:wait-1"))

    def test_bind_ipc_pipelined_out_of_order(self):
        self.check_out_of_order("ipc://" + os.path.join(short_dir(self), "w.sock"))

    def test_bind_tcp_pipelined_out_of_order(self):
        self.check_out_of_order(free_tcp_url())

    def test_backtrace_returned_whole(self):
        s = self.server(Gate())
        url = "ipc://" + os.path.join(short_dir(self), "w.sock")
        s.bind(url)
        p = Peer.dial(url, sp.PROTO_REQ, sp.PROTO_REP)
        self.addCleanup(p.close)
        # A device in between pushed its own word (high bit clear).
        p.send(b"\x00\x00\x00\x07\x80\x00\x00\x09hi")
        self.assertEqual(p.recv(), b"\x00\x00\x00\x07\x80\x00\x00\x09re:hi")

    def test_dial_and_redial(self):
        url = free_tcp_url()
        addr = sp.parse_url(url)
        ln = socket.socket()
        self.addCleanup(ln.close)
        ln.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ln.bind(addr.address)
        ln.listen(4)
        ln.settimeout(10)
        s = self.server(Gate())
        s.dial(url)
        for i in range(2):  # the second time after the first connection dropped
            c, _ = ln.accept()
            p = Peer(c, False, sp.PROTO_REQ, sp.PROTO_REP)
            p.send_req(5, b"hello %d" % i)
            self.assertEqual(p.recv_rep(), (0x80000005, b"re:hello %d" % i))
            p.close()

    def test_wrong_protocol_dropped(self):
        s = self.server(Gate())
        url = "ipc://" + os.path.join(short_dir(self), "w.sock")
        s.bind(url)
        addr = sp.parse_url(url)
        c = socket.socket(socket.AF_UNIX)
        self.addCleanup(c.close)
        c.connect(addr.address)
        with self.assertLogs("nanogate", "WARNING"):
            with self.assertRaises((sp.ProtocolError, EOFError, ConnectionError)):
                Peer(c, True, sp.PROTO_PUSH, sp.PROTO_REP).recv()

    def test_full_queue_answers_503(self):
        gate = Gate()
        s = self.server(gate, threads=1, backlog=1)
        url = "ipc://" + os.path.join(short_dir(self), "w.sock")
        s.bind(url)
        p = Peer.dial(url, sp.PROTO_REQ, sp.PROTO_REP)
        self.addCleanup(p.close)
        p.send_req(1, b"wait")
        self.assertTrue(gate.waiting.acquire(timeout=10))
        p.send_req(2, b"queued")
        p.send_req(3, b"shed")
        self.assertEqual(p.recv_rep(), (0x80000003, BUSY_REPLY))
        gate.release.set()
        self.assertEqual({p.recv_rep(), p.recv_rep()}, {(0x80000001, b"re:wait"), (0x80000002, b"re:queued")})

    def test_handler_exception_is_500(self):
        s = self.server(Gate())
        url = "ipc://" + os.path.join(short_dir(self), "w.sock")
        s.bind(url)
        p = Peer.dial(url, sp.PROTO_REQ, sp.PROTO_REP)
        self.addCleanup(p.close)
        with self.assertLogs("nanogate", "ERROR"):
            p.send_req(1, b"raise")
            rid, body = p.recv_rep()
        self.assertTrue(body.startswith(b"HTTP/1.1 500 "), body)

    def test_drain(self):
        gate = Gate()
        s = self.server(gate)
        url = "ipc://" + os.path.join(short_dir(self), "w.sock")
        s.bind(url)
        p = Peer.dial(url, sp.PROTO_REQ, sp.PROTO_REP)
        self.addCleanup(p.close)
        p.send_req(1, b"wait")
        self.assertTrue(gate.waiting.acquire(timeout=10))
        drained = threading.Thread(target=s.drain)
        t0 = time.monotonic()
        drained.start()
        self.assertEqual(p.recv(), sp.DRAIN_HEADER + sp.DRAIN_BODY)
        # A request that crossed the notice is still served.
        p.send_req(2, b"late")
        self.assertEqual(p.recv_rep(), (0x80000002, b"re:late"))
        gate.release.set()  # the one in flight finishes before the close
        self.assertEqual(p.recv_rep(), (0x80000001, b"re:wait"))
        with self.assertRaises(EOFError):
            p.recv()
        drained.join(10)
        self.assertFalse(drained.is_alive())
        self.assertGreaterEqual(time.monotonic() - t0, 0.1)
        self.assertFalse(os.path.exists(url[len("ipc://"):]))


if __name__ == "__main__":
    unittest.main()
