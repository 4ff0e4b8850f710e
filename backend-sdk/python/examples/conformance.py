"""The conformance worker (docs: the SDK conformance suite): a plain WSGI
application, run by nanogate-wsgi:

    nanogate-wsgi conformance:app --bind ipc:///tmp/conformance.sock
"""

import json
import time
from urllib.parse import parse_qs

TEXT = "text/plain; charset=utf-8"

STATUSES = {
    "201": ("201 Created", [("Location", "/created")], b"created\n"),
    "204": ("204 No Content", [], b""),
    "301": ("301 Moved Permanently", [("Location", "/hello")], b"moved\n"),
    "404": ("404 Not Found", [], b"not found\n"),
    "500": ("500 Internal Server Error", [], b"error\n"),
}


def app(environ, start_response):
    method = environ["REQUEST_METHOD"]
    path = environ["PATH_INFO"]
    if path == "/hello" and method in ("GET", "HEAD"):
        start_response("200 OK", [("Content-Type", TEXT), ("Content-Length", "6")])
        return [b"hello\n"]
    if path == "/echo" and method == "POST":
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(n)
        start_response("200 OK", [
            ("Content-Type", environ.get("CONTENT_TYPE") or "application/octet-stream"),
            ("X-Body-Length", str(len(body))),
        ])
        return [body]
    if path == "/cookies":
        start_response("200 OK", [("Content-Type", TEXT),
                                  ("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/")])
        return [b"cookies\n"]
    if path.startswith("/status/") and path[8:] in STATUSES:
        status, headers, body = STATUSES[path[8:]]
        start_response(status, [("Content-Type", TEXT), ("X-Status", status[:3])] + headers)
        return [body]
    if path == "/raise":
        raise RuntimeError("the conformance worker raises on /raise")
    if path == "/env":
        body = json.dumps({
            "method": method,
            "path": path,
            "query": environ["QUERY_STRING"],
            "remote_addr": environ["REMOTE_ADDR"],
            "session_id": environ["nanogate.session_id"],
            "request_id": environ["nanogate.request_id"],
        }).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/sleep":
        ms = int(parse_qs(environ["QUERY_STRING"]).get("ms", ["0"])[0])
        time.sleep(min(ms, 60000) / 1000.0)
        start_response("200 OK", [("Content-Type", TEXT)])
        return [b"slept\n"]
    start_response("404 Not Found", [("Content-Type", TEXT)])
    return [b"not found\n"]
