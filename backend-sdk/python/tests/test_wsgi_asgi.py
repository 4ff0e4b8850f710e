"""nanogate-asgi --wsgi: a WSGI application behind the ASGI interface,
driven in process with scripted receive and send (the application runs on
the adapter's real threads)."""

import asyncio
import unittest

from helpers import PKG  # noqa: F401  (puts the package on sys.path)

from nanogate.wsgi_asgi import WSGIToASGI, environ

SCOPE = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
    "scheme": "https", "path": "/a b", "raw_path": b"/a%20b", "query_string": b"x=1",
    "root_path": "", "client": ["192.0.2.9", 0], "server": ["h.example", 8443],
    "headers": [(b"host", b"h.example:8443"), (b"content-type", b"text/plain"), (b"cookie", b"a=1"),
                (b"cookie", b"b=2"), (b"x_evil", b"1")],
    "extensions": {"nanogate": {"session_id": "s" * 32, "request_id": "rid-1", "stream": 1}},
}


def run(app, scope, pieces, ended=lambda: False):
    """Run app (WSGI) for scope with request body pieces; return the ASGI
    messages it sent."""
    scope = dict(scope)
    scope["extensions"] = {"nanogate": dict(scope["extensions"]["nanogate"], ended=ended)}
    sent = []

    async def main():
        events = [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1}
                  for i, p in enumerate(pieces)] or [{"type": "http.request", "body": b""}]

        async def receive():
            return events.pop(0) if events else {"type": "http.disconnect"}

        async def send(msg):
            sent.append(msg)
        adapter = WSGIToASGI(app, threads=2)
        try:
            await adapter(scope, receive, send)
        finally:
            adapter.pool.shutdown(wait=True)
    asyncio.run(main())
    return sent


class TestWSGIToASGI(unittest.TestCase):
    def test_environ(self):
        env = environ(SCOPE, None)
        self.assertEqual(env["PATH_INFO"], "/a b")
        self.assertEqual(env["QUERY_STRING"], "x=1")
        self.assertEqual((env["SERVER_NAME"], env["SERVER_PORT"]), ("h.example", "8443"))
        self.assertEqual(env["REMOTE_ADDR"], "192.0.2.9")
        self.assertEqual(env["wsgi.url_scheme"], "https")
        self.assertEqual(env["CONTENT_TYPE"], "text/plain")
        self.assertEqual(env["HTTP_COOKIE"], "a=1; b=2")
        self.assertNotIn("HTTP_X_EVIL", env)
        self.assertEqual(env["nanogate.session_id"], "s" * 32)
        self.assertEqual(env["nanogate.request_id"], "rid-1")

    def test_streamed_body_and_pieces(self):
        seen = {}

        def app(environ, start_response):
            inp = environ["wsgi.input"]
            seen["line"] = inp.readline()
            seen["ten"] = inp.read(10)
            seen["rest"] = inp.read()
            write = start_response("201 Created", [("X-A", "1")])
            write(b"w")
            return iter([b"one", b"", b"two"])
        sent = run(app, SCOPE, [b"first li", b"ne\n0123", b"456789", b"tail"])
        self.assertEqual(seen, {"line": b"first line\n", "ten": b"0123456789", "rest": b"tail"})
        self.assertEqual(sent[0], {"type": "http.response.start", "status": 201, "headers": [(b"X-A", b"1")]})
        self.assertEqual([m["body"] for m in sent[1:]], [b"w", b"one", b"two", b""])
        self.assertEqual([m["more_body"] for m in sent[1:]], [True, True, True, False])

    def test_errors(self):
        def raises(environ, start_response):
            raise KeyError("boom")
        with self.assertRaises(KeyError):
            run(raises, SCOPE, [])

        def replaces(environ, start_response):
            start_response("200 OK", [])
            try:
                raise ValueError("x")
            except ValueError:
                import sys
                start_response("500 Oops", [], sys.exc_info())
            return [b"sorry"]
        sent = run(replaces, SCOPE, [])
        self.assertEqual((sent[0]["status"], sent[1]["body"]), (500, b"sorry"))

    def test_client_gone_stops_the_generator(self):
        closed = []

        def endless(environ, start_response):
            start_response("200 OK", [])

            def gen():
                try:
                    while True:
                        yield b"x"
                finally:
                    closed.append(True)
            return gen()
        sent = run(endless, SCOPE, [], ended=lambda: True)  # gone at the first piece
        self.assertEqual(closed, [True])
        self.assertLessEqual(len(sent), 3)

    def test_websocket_refused(self):
        sent = []

        async def main():
            got = [{"type": "websocket.connect"}]

            async def receive():
                return got.pop(0)

            async def send(msg):
                sent.append(msg)
            a = WSGIToASGI(lambda e, s: [], threads=1)
            await a(dict(SCOPE, type="websocket"), receive, send)
            a.pool.shutdown()
        asyncio.run(main())
        self.assertEqual(sent[0]["type"], "websocket.close")
        self.assertEqual(sent[0]["code"], 1003)


if __name__ == "__main__":
    unittest.main()
