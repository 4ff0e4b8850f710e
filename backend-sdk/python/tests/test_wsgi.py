"""nanogate-wsgi: the environ and the reply of PEP 3333 applications, from
the golden requests; and the command itself as a real process (ready line,
requests, graceful SIGTERM)."""

import os
import signal
import subprocess
import sys
import unittest

from helpers import PKG, SESSION_TESTDATA, Peer, short_dir

from nanogate import sp
from nanogate.http import parse_response
from nanogate.wsgi import WSGIHandler


def golden(name):
    with open(os.path.join(SESSION_TESTDATA, name), "rb") as f:
        return f.read()


def capture(status="200 OK", headers=(("Content-Type", "text/plain"),), body=(b"ok",)):
    """An app that records its environ and answers as told."""
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        seen["body"] = environ["wsgi.input"].read()
        start_response(status, list(headers))
        return list(body)
    return app, seen


def serve(app, msg):
    return parse_response(WSGIHandler(app)(msg, 0), head_request=msg.startswith(b"HEAD "))


class TestEnviron(unittest.TestCase):
    def test_get(self):
        app, env = capture()
        r = serve(app, golden("get.request"))
        self.assertEqual((r.status, r.body), (200, b"ok"))
        self.assertEqual(env["REQUEST_METHOD"], "GET")
        self.assertEqual(env["PATH_INFO"], "/api/hello")
        self.assertEqual(env["QUERY_STRING"], "x=1&y=%20")
        self.assertEqual(env["REQUEST_URI"], "/api/hello?x=1&y=%20")
        self.assertEqual(env["SCRIPT_NAME"], "")
        self.assertEqual(env["SERVER_PROTOCOL"], "HTTP/1.1")
        self.assertEqual((env["SERVER_NAME"], env["SERVER_PORT"]), ("example.com", "80"))
        self.assertEqual(env["REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(env["wsgi.url_scheme"], "http")
        self.assertEqual(env["HTTP_USER_AGENT"], "curl/8.0")
        self.assertEqual(env["nanogate.session_id"], "0123456789abcdeffedcba9876543210")
        self.assertEqual(env["HTTP_X_NANOGATE_SESSION"], "0123456789abcdeffedcba9876543210")
        self.assertEqual(env["nanogate.request_id"], "5f0c6a1e9b2d4c8f8a7e6d5c4b3a2910")
        self.assertNotIn("CONTENT_LENGTH", env)
        self.assertEqual(env["body"], b"")
        self.assertEqual(env["wsgi.version"], (1, 0))
        self.assertTrue(env["wsgi.multithread"])
        self.assertTrue(env["wsgi.input_terminated"])

    def test_post_binary(self):
        app, env = capture()
        serve(app, golden("post-binary.request"))
        self.assertEqual(env["body"], b"a\x00b\r\n\x00\xff")
        self.assertEqual(env["CONTENT_TYPE"], "application/octet-stream")
        self.assertEqual(env["CONTENT_LENGTH"], "7")
        self.assertEqual(env["REMOTE_ADDR"], "::1")

    def test_repeated_headers_and_last_forwarded_for(self):
        app, env = capture()
        serve(app, golden("spoofed-headers.request"))
        self.assertEqual(env["HTTP_COOKIE"], "a=1; b=2")
        self.assertEqual(env["HTTP_X_FORWARDED_FOR"], "192.0.2.1, 192.0.2.2, 127.0.0.1")
        self.assertEqual(env["REMOTE_ADDR"], "127.0.0.1")

    def test_host_scheme_path(self):
        app, env = capture()
        serve(app, b"GET /a%20b/%C3%A9?q HTTP/1.1\r\nHost: [::1]:8443\r\nX-Forwarded-Proto: https\r\n"
                   b"X-Forwarded-For: 10.1.1.1\r\nX_Forwarded_For: 6.6.6.6\r\nA: 1\r\nA: 2\r\n\r\n")
        self.assertEqual(env["PATH_INFO"], "/a b/\xc3\xa9")  # bytes as latin-1, PEP 3333
        self.assertEqual(env["QUERY_STRING"], "q")
        self.assertEqual((env["SERVER_NAME"], env["SERVER_PORT"]), ("::1", "8443"))
        self.assertEqual(env["wsgi.url_scheme"], "https")
        self.assertEqual(env["REMOTE_ADDR"], "10.1.1.1")
        self.assertEqual(env["HTTP_A"], "1, 2")

    def test_bad_request_is_400(self):
        app, _ = capture()
        with self.assertLogs("nanogate", "WARNING"):
            self.assertEqual(WSGIHandler(app)(b"nonsense", 0)[:12], b"HTTP/1.1 400")


class TestReply(unittest.TestCase):
    GET = b"GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: rid-42\r\n\r\n"

    def test_cookies_status_and_length(self):
        app, _ = capture("201 Created", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")], [b"ab", b"", b"c"])
        r = serve(app, self.GET)
        self.assertEqual((r.status, r.reason, r.body), (201, "Created", b"abc"))
        self.assertEqual(r.headers, [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Length", "3")])

    def test_head_and_204(self):
        app, _ = capture(body=[b"hello\n"])
        raw = WSGIHandler(app)(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", 0)
        self.assertTrue(raw.endswith(b"Content-Length: 6\r\n\r\n"), raw)
        app, _ = capture("204 No Content", [("X-Status", "204")], [b""])
        self.assertEqual(WSGIHandler(app)(self.GET, 0), b"HTTP/1.1 204 No Content\r\nX-Status: 204\r\n\r\n")

    def test_write_generator_and_close(self):
        closed = []

        class Body:
            def __iter__(self):
                yield b"2"
                yield bytearray(b"3")

            def close(self):
                closed.append(True)

        def app(environ, start_response):
            write = start_response("200 OK", [])
            write(b"1")
            return Body()
        self.assertEqual(serve(app, self.GET).body, b"123")
        self.assertEqual(closed, [True])

    def test_exc_info_replaces_the_reply(self):
        def app(environ, start_response):
            start_response("200 OK", [("X-A", "1")])
            try:
                raise KeyError("x")
            except KeyError:
                start_response("500 Oops", [("X-B", "2")], sys.exc_info())
            return [b"sorry"]
        r = serve(app, self.GET)
        self.assertEqual((r.status, r.reason, r.headers[0], r.body), (500, "Oops", ("X-B", "2"), b"sorry"))

    def test_exception_is_500_logged_with_the_request_id(self):
        closed = []

        class Body:
            def __iter__(self):
                raise ValueError("mid-body")

            def close(self):
                closed.append(True)

        for app in (lambda e, s: 1 / 0,
                    lambda e, s: (s("200 OK", []), Body())[1],
                    lambda e, s: [b"never started"],
                    lambda e, s: (s("200 OK", [("Content-Length", "10")]), [b"short"])[1],
                    lambda e, s: (s("200 OK", [("X", "a\nb")]), [b""])[1],
                    lambda e, s: (s("200 OK", []), ["str, not bytes"])[1]):
            with self.subTest(app):
                with self.assertLogs("nanogate", "ERROR") as logs:
                    r = serve(app, self.GET)
                self.assertEqual(r.status, 500)
                self.assertIn("request_id=rid-42", logs.output[0])
        self.assertEqual(closed, [True])

    def test_transfer_encoding_dropped(self):
        app, _ = capture(headers=[("Transfer-Encoding", "chunked"), ("X-A", "1")], body=[b"abc"])
        r = serve(app, self.GET)
        self.assertEqual((r.headers, r.body), ([("X-A", "1"), ("Content-Length", "3")], b"abc"))

    def test_longer_body_cut_to_content_length(self):
        app, _ = capture(headers=[("Content-Length", "2")], body=[b"abcd"])
        self.assertEqual(serve(app, self.GET).body, b"ab")

    def test_file_wrapper(self):
        import io

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            return environ["wsgi.file_wrapper"](io.BytesIO(b"z" * 200000), 65536)
        self.assertEqual(serve(app, self.GET).body, b"z" * 200000)

    def test_5xx_logged_with_the_request_id(self):
        # As Flask and Django do: the framework catches its own exception
        # and answers 500; the line with the request id comes from here.
        app, _ = capture("503 Service Unavailable", [], [b"busy"])
        with self.assertLogs("nanogate", "WARNING") as logs:
            self.assertEqual(serve(app, self.GET).status, 503)
        self.assertIn("request_id=rid-42", logs.output[0])
        self.assertIn("503 Service Unavailable", logs.output[0])

    def test_start_response_twice_fails(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            start_response("200 OK", [])
            return [b""]
        with self.assertLogs("nanogate", "ERROR"):
            self.assertEqual(serve(app, self.GET).status, 500)


class TestCommand(unittest.TestCase):
    """nanogate-wsgi as a process: python -m nanogate.wsgi."""

    def start(self, *args):
        env = dict(os.environ, PYTHONPATH=PKG)
        p = subprocess.Popen([sys.executable, "-m", "nanogate.wsgi"] + list(args),
                             cwd=os.path.join(PKG, "examples"), env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def stop():
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stdout.close()
            p.stderr.close()
        self.addCleanup(stop)
        return p

    def test_serve_then_drain_on_sigterm(self):
        url = "ipc://" + os.path.join(short_dir(self), "w.sock")
        p = self.start("conformance:app", "--bind", url, "--threads", "4")
        self.assertEqual(p.stdout.readline(), b"ready\n")
        peer = Peer.dial(url, sp.PROTO_REQ, sp.PROTO_REP)
        self.addCleanup(peer.close)
        peer.send_req(1, b"GET /hello HTTP/1.1\r\nHost: h\r\n\r\n")
        rid, reply = peer.recv_rep()
        self.assertEqual(rid, 0x80000001)
        r = parse_response(reply)
        self.assertEqual((r.status, r.body, r.header("Content-Type")), (200, b"hello\n", "text/plain; charset=utf-8"))
        peer.send_req(2, b"GET /sleep?ms=200 HTTP/1.1\r\nHost: h\r\n\r\n")
        p.send_signal(signal.SIGTERM)
        self.assertEqual(peer.recv(), sp.DRAIN_HEADER + sp.DRAIN_BODY)
        rid, reply = peer.recv_rep()  # in flight when the signal came: finished
        self.assertEqual((rid, parse_response(reply).body), (0x80000002, b"slept\n"))
        with self.assertRaises(EOFError):
            peer.recv()
        self.assertEqual(p.wait(10), 0)

    def test_sigterm_taken_by_another_thread(self):
        # The kernel may give a process's SIGTERM to any thread; send it to
        # a handler thread on purpose (tgkill): the main thread must wake.
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if not hasattr(libc, "tgkill"):
            self.skipTest("no tgkill in this libc")
        url = "ipc://" + os.path.join(short_dir(self), "w.sock")
        p = self.start("conformance:app", "--bind", url, "--threads", "2")
        self.assertEqual(p.stdout.readline(), b"ready\n")
        tids = [int(t) for t in os.listdir("/proc/%d/task" % p.pid) if int(t) != p.pid]
        self.assertTrue(tids)
        self.assertEqual(libc.tgkill(p.pid, tids[0], signal.SIGTERM), 0, ctypes.get_errno())
        self.assertEqual(p.wait(10), 0)

    def test_bad_arguments(self):
        for args in ([], ["conformance:app"], ["conformance:app", "--bind", "http://x"],
                     ["nosuchmodule:app", "--bind", "ipc:///tmp/x.sock"]):
            with self.subTest(args):
                p = self.start(*args)
                self.assertNotEqual(p.wait(10), 0)


if __name__ == "__main__":
    unittest.main()
