"""nanogate-asgi as a process, against a gateway played by the test over
real sockets: it pushes frames to the worker's PULL and reads the
worker's frames on an inbound PULL it binds, as nanogate does."""

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import unittest

from helpers import HERE, PKG, Peer, short_dir

from nanogate import frames, sp
from nanogate.http import parse_response

SID = "0123456789abcdeffedcba9876543210"


class FakeGateway:
    """Binds the inbound PULL; dials the worker's PULL as PUSH."""

    def __init__(self, test, d):
        self.inbound_path = os.path.join(d, "in.sock")
        self.inbound = "ipc://" + self.inbound_path
        self.ln = socket.socket(socket.AF_UNIX)
        self.ln.bind(self.inbound_path)
        self.ln.listen(4)
        self.ln.settimeout(10)
        test.addCleanup(self.ln.close)
        self.test = test
        self.inp = None
        self.out = None

    def connect(self, worker_url):
        self.out = Peer.dial(worker_url, sp.PROTO_PUSH, sp.PROTO_PULL)
        self.test.addCleanup(self.out.close)

    def accept_inbound(self):
        c, _ = self.ln.accept()
        self.inp = Peer(c, True, sp.PROTO_PULL, sp.PROTO_PUSH)
        self.test.addCleanup(self.inp.close)

    def request(self, num, method, target, headers=(), body=None):
        head = "%s %s HTTP/1.1\r\nHost: h.example:8080\r\n" % (method, target)
        for k, v in headers:
            head += "%s: %s\r\n" % (k, v)
        if body is not None:
            head += "Content-Length: %d\r\n" % len(body)
        head += ("X-Forwarded-For: 10.0.0.1, 192.0.2.9\r\nX-Forwarded-Proto: http\r\n"
                 "X-Request-Id: rid-%d\r\nX-Nanogate-Session: %s\r\nX-Nanogate-Inbound: %s\r\n\r\n"
                 % (num, SID, self.inbound))
        self.send(num, frames.REQUEST, head.encode())
        if self.inp is None:
            self.accept_inbound()

    def send(self, num, type, body=b""):
        self.out.send(frames.build(SID, type, num, body))

    def next(self):
        f = frames.parse(self.inp.recv())
        self.test.assertEqual(f.sid, SID)
        return f

    def expect(self, num, type):
        f = self.next()
        self.test.assertEqual((f.stream, f.type), (num, type), f.body[:200])
        return f.body


class TestASGI(unittest.TestCase):
    def setUp(self):
        d = short_dir(self)
        self.url = "ipc://" + os.path.join(d, "w.sock")
        self.gw = FakeGateway(self, d)

    def start(self, *extra, mode="--bind"):
        env = dict(os.environ, PYTHONPATH=PKG)
        p = subprocess.Popen([sys.executable, "-m", "nanogate.asgi", "asgi_app:app", mode, self.url] + list(extra),
                             cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stderr = []
        self.stderr_changed = threading.Condition()

        def read_stderr():
            for line in p.stderr:
                with self.stderr_changed:
                    self.stderr.append(line.decode(errors="replace").rstrip("\n"))
                    self.stderr_changed.notify_all()
        t = threading.Thread(target=read_stderr, daemon=True)
        t.start()

        def stop():
            if p.poll() is None:
                p.kill()
            p.wait()
            t.join(5)
            p.stdout.close()
            p.stderr.close()
        self.addCleanup(stop)
        self.assertEqual(p.stdout.readline(), b"ready\n")
        if mode == "--bind":
            self.gw.connect(self.url)
        return p

    def test_dial(self):
        # The gateway's endpoint in mode listen: the worker dials its PULL.
        path = self.url[len("ipc://"):]
        ln = socket.socket(socket.AF_UNIX)
        self.addCleanup(ln.close)
        ln.bind(path)
        ln.listen(1)
        ln.settimeout(10)
        self.start(mode="--dial")
        c, _ = ln.accept()
        self.gw.out = Peer(c, True, sp.PROTO_PUSH, sp.PROTO_PULL)
        self.addCleanup(self.gw.out.close)
        self.gw.request(1, "GET", "/hello")
        self.assertEqual(parse_response(self.gw.expect(1, frames.HEADERS)).body, b"hello\n")

    def wait_stderr(self, text):
        with self.stderr_changed:
            ok = self.stderr_changed.wait_for(lambda: any(text in ln for ln in self.stderr), timeout=10)
        self.assertTrue(ok, "no %r in the worker's log:\n%s" % (text, "\n".join(self.stderr)))

    def test_http(self):
        self.start()
        gw = self.gw
        gw.request(1, "GET", "/hello")
        r = parse_response(gw.expect(1, frames.HEADERS))
        self.assertEqual((r.status, r.header("Content-Length"), r.body), (200, "6", b"hello\n"))
        # A whole Content-Length completes the response: no end frame.

        gw.request(2, "GET", "/scope?a=%20b")
        r = parse_response(gw.expect(2, frames.HEADERS))
        self.assertEqual(r.body.decode(), "GET /scope a=%20b 192.0.2.9 http " + SID + " rid-2 yes")

        gw.request(3, "GET", "/stream")
        head = gw.expect(3, frames.HEADERS)
        self.assertTrue(head.endswith(b"\r\n\r\none "), head)
        self.assertNotIn(b"Content-Length", head)
        self.assertEqual(gw.expect(3, frames.BODY), b"two ")
        self.assertEqual(gw.expect(3, frames.BODY), b"three")
        gw.expect(3, frames.END)

        gw.request(4, "HEAD", "/hello")
        r = parse_response(gw.expect(4, frames.HEADERS), head_request=True)
        self.assertEqual((r.status, r.header("Content-Length"), r.body), (200, "6", b""))

    def test_flow_control(self):
        self.start()
        gw = self.gw
        gw.request(1, "GET", "/big")
        granted, got = frames.WINDOW, 0
        f = gw.next()
        self.assertEqual(f.type, frames.HEADERS)
        got += len(f.body) - f.body.index(b"\r\n\r\n") - 4  # the first piece rides with the head
        self.assertIn(b"Content-Length: %d\r\n" % (3 << 20), f.body)
        while got < 3 << 20:
            self.assertLessEqual(got, granted, "the worker sent past its window")
            if got == granted:
                gw.send(1, frames.CREDIT, b"%d" % (512 << 10))
                granted += 512 << 10
            f = gw.next()
            self.assertEqual(f.type, frames.BODY)
            self.assertLessEqual(len(f.body), frames.MAX_FRAME_BODY)
            got += len(f.body)
        self.assertEqual(got, 3 << 20)

    def test_streamed_upload(self):
        self.start()
        gw = self.gw
        payload = os.urandom(300000)
        gw.request(1, "POST", "/echo", [("Content-Length", str(len(payload)))])
        for i in range(0, len(payload), 100000):
            gw.send(1, frames.BODY, payload[i:i + 100000])
        gw.send(1, frames.BODY)
        r = parse_response(gw.expect(1, frames.HEADERS))
        self.assertEqual(r.body, b"%d %s" % (len(payload), hashlib.sha256(payload).hexdigest().encode()))

    def test_errors(self):
        self.start()
        gw = self.gw
        gw.request(1, "GET", "/raise")
        r = parse_response(gw.expect(1, frames.HEADERS))
        self.assertEqual(r.status, 500)
        gw.expect(1, frames.END)
        self.wait_stderr("request_id=rid-1")
        gw.request(2, "GET", "/raise-late")
        gw.expect(2, frames.HEADERS)
        gw.expect(2, frames.CLOSE)  # cut, never a clean end
        gw.request(3, "GET", "/watch")
        gw.expect(3, frames.HEADERS)
        gw.send(3, frames.END)  # the client went away
        self.wait_stderr("saw http.disconnect")

    def test_gateway_connection_lost_ends_its_streams(self):
        self.start()
        gw = self.gw
        gw.request(1, "GET", "/watch")
        gw.expect(1, frames.HEADERS)
        gw.out.close()  # the gateway went away: no end frame will come
        self.wait_stderr("saw http.disconnect")

    def test_websocket(self):
        self.start()
        gw = self.gw
        gw.request(1, "GET", "/ws", [("Upgrade", "websocket"), ("Connection", "Upgrade")])
        gw.send(1, frames.WS_TEXT, b"hello")
        self.assertEqual(gw.expect(1, frames.WS_TEXT), b"HELLO")
        gw.send(1, frames.WS_BINARY, b"\x00\xff")
        self.assertEqual(gw.expect(1, frames.WS_BINARY), b"\x00\xff!")
        gw.send(1, frames.WS_TEXT, b"bye")
        self.assertEqual(gw.expect(1, frames.WS_CLOSE), b"4001 bye")
        gw.request(2, "GET", "/ws", [("Upgrade", "websocket")])
        gw.send(2, frames.WS_CLOSE, b"1001 going")
        self.wait_stderr("websocket closed by the client: 1001")

    def test_over_max_streams_503(self):
        self.start("--max-streams", "1")
        gw = self.gw
        gw.request(1, "POST", "/hold", body=None, headers=[("Content-Length", "2")])
        gw.request(2, "GET", "/hello")
        r = parse_response(gw.expect(2, frames.HEADERS))
        self.assertEqual((r.status, r.header("Retry-After")), (503, "1"))
        gw.expect(2, frames.END)
        gw.send(1, frames.BODY, b"ok")
        self.assertEqual(parse_response(gw.expect(1, frames.HEADERS)).body, b"held ok")

    def test_sigterm_finishes_streams_and_retries_new_ones(self):
        p = self.start()
        gw = self.gw
        gw.request(1, "POST", "/hold", headers=[("Content-Length", "3")])
        gw.request(2, "GET", "/hello")  # a round trip: stream 1 has started
        gw.expect(2, frames.HEADERS)
        p.send_signal(signal.SIGTERM)
        self.wait_stderr("draining")
        gw.request(3, "GET", "/hello")
        gw.expect(3, frames.RETRY)  # for another worker
        gw.send(1, frames.BODY, b"end")
        self.assertEqual(parse_response(gw.expect(1, frames.HEADERS)).body, b"held end")
        self.assertEqual(p.wait(10), 0)

    def test_bad_frames_ignored(self):
        self.start()
        gw = self.gw
        gw.out.send(b"not a frame")
        gw.send(9, frames.BODY, b"for no stream")
        gw.request(1, "GET", "/hello")
        self.assertEqual(parse_response(gw.expect(1, frames.HEADERS)).status, 200)
        self.wait_stderr("bad frame")


if __name__ == "__main__":
    unittest.main()
