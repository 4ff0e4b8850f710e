"""A WSGI application as an ASGI one, for `nanogate-asgi --wsgi`: a WSGI
app on a route of format frames, whose response iterable is streamed piece
by piece (a Flask generator of server-sent events, a Django
StreamingHttpResponse) and whose wsgi.input reads the upload as it
arrives.

The application runs on a bounded pool of threads; each piece it yields is
handed to the event loop and the thread waits until it is sent, so the
stream's window and the gateway's credit hold the application back as they
hold an ASGI one.
"""

import asyncio
import io
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_to_bytes

from .http import check_status
from .wsgi import FileWrapper


class _Input(io.RawIOBase):
    """wsgi.input over the ASGI receive channel: read from the handler's
    thread, each piece fetched on the event loop."""

    def __init__(self, receive, loop):
        self._receive, self._loop = receive, loop
        self._buf = b""
        self._more = True

    def readable(self):
        return True

    def _fill(self):
        while self._more and not self._buf:
            msg = asyncio.run_coroutine_threadsafe(self._receive(), self._loop).result()
            if msg["type"] != "http.request":
                self._more = False  # http.disconnect: the body ends here
                break
            self._buf = msg.get("body", b"")
            self._more = msg.get("more_body", False)

    def readinto(self, b):
        self._fill()
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def read(self, size=-1):
        if size is None or size < 0:
            parts = []
            while True:
                self._fill()
                if not self._buf:
                    return b"".join(parts)
                parts.append(self._buf)
                self._buf = b""
        # Whole reads, as from a file: code that reads Content-Length bytes
        # in one call gets them all.
        parts, n = [], 0
        while n < size:
            self._fill()
            if not self._buf:
                break
            piece, self._buf = self._buf[:size - n], self._buf[size - n:]
            parts.append(piece)
            n += len(piece)
        return b"".join(parts)

    def readline(self, size=-1):
        parts, n = [], 0
        while size < 0 or n < size:
            self._fill()
            if not self._buf:
                break
            want = len(self._buf) if size < 0 else size - n
            i = self._buf.find(b"\n", 0, want)
            cut = i + 1 if i >= 0 else min(want, len(self._buf))
            parts.append(self._buf[:cut])
            n += cut
            self._buf = self._buf[cut:]
            if i >= 0:
                break
        return b"".join(parts)


class ClientGone(OSError):
    """The stream ended (the client went away) while the application was
    still writing: raised into it so that an endless generator stops."""


class WSGIToASGI:
    """ASGI 3 application that runs app, a WSGI application, on at most
    threads threads at once."""

    def __init__(self, app, threads=32):
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="nanogate-wsgi")

    async def __call__(self, scope, receive, send):
        t = scope["type"]
        if t == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    self.pool.shutdown(wait=False)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if t == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1003, "reason": "a WSGI application takes no WebSocket"})
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.pool, self._run, scope, receive, send, loop)
        except ClientGone:
            pass

    def _run(self, scope, receive, send, loop):
        ended = scope.get("extensions", {}).get("nanogate", {}).get("ended", lambda: False)

        def call(message):
            asyncio.run_coroutine_threadsafe(send(message), loop).result()
            if message.get("more_body") and ended():
                raise ClientGone("the client went away")

        env = environ(scope, _Input(receive, loop))
        state = {"status": None, "headers": None, "started": False}

        def start_response(status, headers, exc_info=None):
            if exc_info is not None:
                try:
                    if state["started"]:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif state["status"] is not None:
                raise AssertionError("start_response called twice without exc_info")
            check_status(status)
            state["status"], state["headers"] = status, headers
            return write

        def begin():
            if not state["started"]:
                if state["status"] is None:
                    raise RuntimeError("the application returned a body without calling start_response")
                state["started"] = True
                call({"type": "http.response.start", "status": int(state["status"][:3]),
                      "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in state["headers"]]})

        def write(data):
            begin()
            if data:
                call({"type": "http.response.body", "body": bytes(data), "more_body": True})

        result = self.app(env, start_response)
        try:
            for data in result:
                if data:
                    write(data)
            begin()
            call({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


def environ(scope, body):
    """The PEP 3333 environ of an ASGI http scope (as nanogate.wsgi builds it
    from a request message)."""
    ext = scope.get("extensions", {}).get("nanogate", {})
    client = scope.get("client")
    server = scope.get("server") or ("localhost", 80)
    raw = scope.get("raw_path") or scope["path"].encode("utf-8")
    env = {
        "wsgi.version": (1, 0),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.input_terminated": True,
        "SERVER_SOFTWARE": "nanogate-asgi",
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw).decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_PROTOCOL": "HTTP/" + scope.get("http_version", "1.1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "REMOTE_ADDR": client[0] if client else "",
        "nanogate.session_id": ext.get("session_id", ""),
        "nanogate.request_id": ext.get("request_id", ""),
    }
    for name, value in scope["headers"]:
        name = name.decode("latin-1")
        if "_" in name:
            continue  # as nanogate.wsgi: Foo_Bar would pass for Foo-Bar
        key = name.upper().replace("-", "_")
        value = value.decode("latin-1")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            env[key] = value
            continue
        key = "HTTP_" + key
        old = env.get(key)
        env[key] = value if old is None else old + ("; " if key == "HTTP_COOKIE" else ", ") + value
    return env
