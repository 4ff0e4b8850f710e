"""nanogate-wsgi: serve any WSGI application (PEP 3333) on a route of
format `http`.

    nanogate-wsgi myproject.wsgi:application --bind ipc:///run/app.sock

Each request is one SP message; a reader thread per gateway connection
queues it (bounded: a full queue answers 503 at once) for a fixed pool of
handler threads, which run the application and send the whole reply in one
write. The response is buffered: what a WSGI application yields becomes
one reply (use nanogate-asgi on a frames route to stream).

The environ carries, besides PEP 3333's keys: REMOTE_ADDR from the last
X-Forwarded-For entry (the gateway appends the client's address),
wsgi.url_scheme from X-Forwarded-Proto, SERVER_NAME and SERVER_PORT from
Host, REQUEST_URI/RAW_URI (the target as the client sent it), and
nanogate.session_id / nanogate.request_id (also in HTTP_X_NANOGATE_SESSION
and HTTP_X_REQUEST_ID).
"""

import io
import logging
import sys
from urllib.parse import unquote_to_bytes

from . import cli
from .http import BadRequest, build_head, check_status, digits, parse_request, split_host

log = logging.getLogger("nanogate")

_BAD_REQUEST = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: 12\r\n\r\nBad Request\n")


def _error_reply(request_id):
    body = b"Internal Server Error\n"
    if request_id:
        body = b"Internal Server Error (request " + request_id.encode("latin-1", "replace") + b")\n"
    return build_head("500 Internal Server Error", [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ]) + body


class FileWrapper:
    """wsgi.file_wrapper: iterates a file-like object in blocks."""

    def __init__(self, filelike, blksize=65536):
        self.filelike, self.blksize = filelike, blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        read = self.filelike.read
        while True:
            data = read(self.blksize)
            if not data:
                return
            yield data


class WSGIHandler:
    """Turns one request message into one reply by calling app; an
    RepServer handler."""

    def __init__(self, app, url_scheme="http"):
        self.app = app
        self.base = {
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
            # The body is whole (a chunked upload arrives de-chunked), so
            # reading wsgi.input to its end is safe (werkzeug reads this).
            "wsgi.input_terminated": True,
            "SCRIPT_NAME": "",
            "SERVER_SOFTWARE": "nanogate-wsgi",
        }

    def __call__(self, msg, start):
        try:
            req = parse_request(msg, start)
        except BadRequest as e:
            log.warning("nanogate-wsgi: bad request from the gateway: %s", e)
            return _BAD_REQUEST
        env = self.environ(req)
        try:
            reply = self.run(env, req.method == "HEAD")
            if reply[9] == 53:  # "5": a framework that caught its own exception still gets its line
                log.warning("nanogate-wsgi: %s request_id=%s method=%s uri=%s",
                            reply[9:reply.index(b"\r")].decode("latin-1"),
                            env.get("HTTP_X_REQUEST_ID", ""), req.method, req.target)
            return reply
        except Exception:
            log.exception("nanogate-wsgi: exception serving request request_id=%s method=%s uri=%s",
                          env.get("HTTP_X_REQUEST_ID", ""), req.method, req.target)
            return _error_reply(env.get("HTTP_X_REQUEST_ID", ""))

    def environ(self, req):
        env = self.base.copy()
        target = req.target
        if target[0] != "/" and "://" in target:  # absolute-form
            rest = target.split("://", 1)[1]
            slash = rest.find("/")
            target = rest[slash:] if slash >= 0 else "/"
        path, _, query = target.partition("?")
        env["REQUEST_METHOD"] = req.method
        env["PATH_INFO"] = unquote_to_bytes(path).decode("latin-1") if "%" in path else path
        env["QUERY_STRING"] = query
        env["REQUEST_URI"] = env["RAW_URI"] = req.target
        env["SERVER_PROTOCOL"] = req.version
        for name, value in req.headers:
            if "_" in name:
                continue  # Foo_Bar would pass for Foo-Bar: dropped, as gunicorn and nginx do
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
                env[key] = value
                continue
            key = "HTTP_" + key
            old = env.get(key)
            if old is None:
                env[key] = value
            else:
                env[key] = old + ("; " if key == "HTTP_COOKIE" else ", ") + value
        xff = env.get("HTTP_X_FORWARDED_FOR")
        if xff:
            env["REMOTE_ADDR"] = xff.rsplit(",", 1)[-1].strip()
        else:
            env["REMOTE_ADDR"] = ""
        scheme = env.get("HTTP_X_FORWARDED_PROTO", "http").lower()
        if scheme not in ("http", "https"):
            scheme = "http"
        env["wsgi.url_scheme"] = scheme
        host = env.get("HTTP_HOST", "")
        name, port = split_host(host)
        env["SERVER_NAME"] = name or "localhost"
        env["SERVER_PORT"] = port or ("443" if scheme == "https" else "80")
        env["wsgi.input"] = io.BytesIO(req.body)
        env["nanogate.session_id"] = env.get("HTTP_X_NANOGATE_SESSION", "")
        env["nanogate.request_id"] = env.get("HTTP_X_REQUEST_ID", "")
        return env

    def run(self, env, head):
        state = [None, None]  # status, headers
        written = []

        def start_response(status, headers, exc_info=None):
            if exc_info is not None:
                try:
                    # Nothing is on the wire before the application
                    # returns (the reply is sent whole), so an error page
                    # may always replace what was started.
                    written.clear()
                finally:
                    exc_info = None
            elif state[0] is not None:
                raise AssertionError("start_response called twice without exc_info")
            check_status(status)
            if type(headers) is not list:
                raise TypeError("response headers must be a list, not %s" % type(headers).__name__)
            state[0], state[1] = status, headers
            return written.append

        result = self.app(env, start_response)
        try:
            if type(result) is list and len(result) == 1 and not written:
                body = result[0]
                if type(body) is not bytes:
                    body = _as_bytes(body)
            else:
                for data in result:
                    if data:
                        written.append(data)
                body = b"".join(_as_bytes(d) for d in written) if written else b""
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = state
        if status is None:
            raise RuntimeError("the application returned without calling start_response")
        code = int(status[:3])
        declared = None
        for name, value in headers:
            n = len(name)
            if n == 14 and name.lower() == "content-length":
                declared = value.strip()
            elif n == 17 and name.lower() == "transfer-encoding":
                # PEP 3333 forbids hop-by-hop fields; the body here is never
                # chunk-encoded, and the gateway frames the reply itself.
                headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
        if head or code == 204 or code == 304:
            if declared is None and head and code != 204 and code != 304:
                headers = headers + [("Content-Length", str(len(body)))]
            return build_head(status, headers)
        if declared is None:
            headers = headers + [("Content-Length", str(len(body)))]
        elif not digits(declared):
            raise ValueError("the application's Content-Length %r is not a number" % declared)
        elif int(declared) != len(body):
            n = int(declared)
            if len(body) < n:
                raise ValueError("the application declared Content-Length %d and sent %d bytes"
                                 % (n, len(body)))
            body = body[:n]  # PEP 3333: no more than Content-Length is sent
        return build_head(status, headers) + body


def _as_bytes(data):
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError("the application yielded %s, not bytes" % type(data).__name__)


def main(argv=None):
    args = cli.parse_args("nanogate-wsgi", "serve a WSGI application (PEP 3333) behind nanogate", argv,
                          threads=True)
    cli.setup_logging(args.log_level)
    app = cli.load_app(args.app)
    from .rep import RepServer
    server = RepServer(WSGIHandler(app), threads=args.threads, backlog=args.backlog,
                       max_recv=args.max_request_bytes)
    return cli.serve_until_signal(server, args, "nanogate-wsgi")


if __name__ == "__main__":
    sys.exit(main())
