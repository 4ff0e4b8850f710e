"""Prints, as JSON, replies that nanogate-wsgi writes for a set of WSGI
apps and requests, with what each must parse to; cmd/nanogate's
TestPythonReplyWriter feeds them to the gateway's own parser
(session.Response.Parse)."""

import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nanogate.wsgi import WSGIHandler  # noqa: E402

BINARY = bytes(range(256)) * 64


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/cookies":
        start_response("201 Created", [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/")])
        return [b"made\n"]
    if path == "/binary":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [BINARY[:1000], BINARY[1000:]]
    if path == "/empty":
        start_response("204 No Content", [("X-Status", "204")])
        return []
    if path == "/length":
        start_response("200 OK", [("Content-Length", "5")])
        return [b"hello"]
    if path == "/reason":
        start_response("299 Custom Reason", [])
        return [b"x"]
    if path == "/raise":
        raise RuntimeError("raised on purpose")
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"hello\n"]


CASES = [
    ("GET", "/", 200, b"hello\n", 0),
    ("HEAD", "/", 200, b"", 0),
    ("GET", "/cookies", 201, b"made\n", 2),
    ("GET", "/binary", 200, BINARY, 0),
    ("GET", "/empty", 204, b"", 0),
    ("GET", "/length", 200, b"hello", 0),
    ("HEAD", "/length", 200, b"", 0),
    ("GET", "/reason", 299, b"x", 0),
    ("GET", "/raise", 500, None, 0),
]


def main():
    import logging
    logging.disable(logging.CRITICAL)
    h = WSGIHandler(app)
    out = []
    for method, path, status, body, cookies in CASES:
        req = ("%s %s HTTP/1.1\r\nHost: h\r\nX-Request-Id: r\r\n\r\n" % (method, path)).encode()
        out.append({
            "name": method + " " + path,
            "head": method == "HEAD",
            "reply": base64.b64encode(h(req, 0)).decode(),
            "status": status,
            "body": None if body is None else base64.b64encode(body).decode(),
            "cookies": cookies,
        })
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
