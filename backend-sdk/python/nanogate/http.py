"""Format `http` (docs/PROTOCOL.md): the request the gateway sends, parsed,
and the reply a worker sends, written.

A request reads like an HTTP/1.1 request on the wire: request line, header
lines ended by CRLF (the gateway normalises bare LFs), an empty line, then
exactly Content-Length bytes of body. A reply is one complete HTTP/1.1
response; the gateway re-frames it for the client.
"""

import re

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_TOKEN_STR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# A field value: visible characters, SP, HTAB and obs-text; no CR, LF, NUL
# or other control characters.
_BAD_VALUE_STR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def digits(s):
    """s is 1 or more ASCII digits (str.isdigit also takes "²" and "٣",
    which int() refuses or reads)."""
    return s.isascii() and s.isdigit()


class BadRequest(ValueError):
    """The message is not a request of format http."""


class Request:
    """A parsed request. method, target and version are str (latin-1);
    headers is a list of (name, value) str pairs in the gateway's order,
    repeats kept; body is bytes (a copy-free slice when it is the whole
    rest of the message)."""

    __slots__ = ("method", "target", "version", "headers", "body")

    def __init__(self, method, target, version, headers, body):
        self.method, self.target, self.version = method, target, version
        self.headers, self.body = headers, body

    def header(self, name, default=None):
        """The first value of header name (case-insensitive)."""
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    @property
    def request_id(self):
        return self.header("X-Request-Id", "")

    @property
    def session_id(self):
        return self.header("X-Nanogate-Session", "")


def parse_head(msg, start=0):
    """Parse the head at msg[start:]: (method, target, version, headers,
    content_length or None, body_start). Raise BadRequest."""
    end = msg.find(b"\r\n\r\n", start)
    if end < 0:
        raise BadRequest("no end of head (CRLF CRLF)")
    head = msg[start:end].decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise BadRequest("bad request line %r" % lines[0][:200])
    method, target, version = parts
    if not version.startswith("HTTP/"):
        raise BadRequest("bad protocol version %r" % version[:20])
    headers = []
    length = None
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN_STR.match(name):
            raise BadRequest("bad header line %r" % line[:200])
        value = value.strip(" \t")
        if len(name) == 14 and name.lower() == "content-length":
            if not digits(value) or (length is not None and int(value) != length):
                raise BadRequest("bad Content-Length %r" % value)
            length = int(value)
        headers.append((name, value))
    return method, target, version, headers, length, end + 4


def parse_request(msg, start=0):
    """Parse msg[start:] (bytes) as a request; raise BadRequest."""
    method, target, version, headers, length, body_start = parse_head(msg, start)
    have = len(msg) - body_start
    if length is None:
        length = 0
    if have != length:
        raise BadRequest("body of %d bytes, Content-Length %d" % (have, length))
    body = msg[body_start:] if have else b""
    return Request(method, target, version, headers, body)


def split_host(host):
    """(name, port) of a Host value; port is "" when absent."""
    if host.startswith("["):
        end = host.find("]")
        if end > 0:
            port = host[end + 2:] if host[end + 1:end + 2] == ":" else ""
            return host[1:end], port
        return host, ""
    name, colon, port = host.rpartition(":")
    if colon and digits(port):
        return name, port
    return host, ""


_REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created",
    202: "Accepted", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 410: "Gone",
    413: "Content Too Large", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}


def reason(code):
    return _REASONS.get(code, "Status")


def check_status(status):
    """Check a WSGI status line ("200 OK"); return the code."""
    if not isinstance(status, str) or len(status) < 3 or not digits(status[:3]) \
            or (len(status) > 3 and status[3] != " ") or _BAD_VALUE_STR.search(status):
        raise ValueError("bad status %r (want '200 OK')" % (status,))
    code = int(status[:3])
    if code < 200:
        raise ValueError("status %d: interim (1xx) replies are refused, send the final one" % code)
    return code


def check_header(name, value):
    if not isinstance(name, str) or not _TOKEN_STR.match(name):
        raise ValueError("bad header name %r" % (name,))
    if not isinstance(value, str) or _BAD_VALUE_STR.search(value):
        raise ValueError("bad value for header %s: %r" % (name, value))


def build_head(status, headers):
    """The head of a reply (status line, header lines, CRLF) as bytes.
    status is "200 OK"; headers are (str, str) pairs, checked."""
    out = ["HTTP/1.1 ", status, "\r\n"]
    for name, value in headers:
        check_header(name, value)
        out.append(name)
        out.append(": ")
        out.append(value)
        out.append("\r\n")
    out.append("\r\n")
    try:
        return "".join(out).encode("latin-1")
    except UnicodeEncodeError as e:
        raise ValueError("a header is not latin-1: %s" % e) from None


def build_reply(status, headers, body=b""):
    """A whole reply: head and body. Content-Length is added when headers
    have none (the gateway would also take the rest of the message)."""
    if not any(n.lower() == "content-length" for n, _ in headers):
        headers = list(headers) + [("Content-Length", str(len(body)))]
    return build_head(status, headers) + bytes(body)


class Response:
    """A parsed reply, for tests and for checking replies strictly (the
    gateway's rules, docs/PROTOCOL.md)."""

    __slots__ = ("status", "reason", "headers", "body")

    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default


def parse_response(msg, head_request=False):
    """Parse a reply as the gateway does (session.Response.Parse): bare LF
    allowed for CRLF in the head; token names; values free of control
    characters; chunked decoded; Content-Length exact; 1xx refused; 204 and
    304 bodiless. Raise ValueError."""
    msg = bytes(msg)
    i = msg.find(b"\n\n")
    j = msg.find(b"\r\n\r\n")
    if j >= 0 and (i < 0 or j < i):
        head, rest = msg[:j], msg[j + 4:]
    elif i >= 0:
        head, rest = msg[:i], msg[i + 2:]
    else:
        raise ValueError("no end of head")
    lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in head.split(b"\n")]
    m = re.match(rb"HTTP/1\.[01] (\d{3})(?: (.*))?\Z", lines[0])
    if not m:
        raise ValueError("bad status line %r" % lines[0])
    status = int(m.group(1))
    if not 200 <= status <= 999:
        raise ValueError("status %d refused" % status)
    headers = []
    length, chunked = None, False
    for ln in lines[1:]:
        name, colon, value = ln.partition(b":")
        if not colon or not _TOKEN.match(name):
            raise ValueError("bad header line %r" % ln)
        value = value.strip(b" \t")
        if _BAD_VALUE.search(value):
            raise ValueError("control character in %r" % ln)
        lname = name.lower()
        if lname == b"content-length":
            if not value.isdigit() or (length is not None and int(value) != length):
                raise ValueError("bad Content-Length %r" % value)
            length = int(value)
        elif lname == b"transfer-encoding":
            if value.lower() != b"chunked":
                raise ValueError("transfer coding %r refused" % value)
            chunked = True
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
    if chunked and length is not None:
        raise ValueError("both Content-Length and Transfer-Encoding")
    if chunked:
        body = _dechunk(rest)
    elif length is not None:
        if head_request or status == 304:
            if rest and len(rest) != length:
                raise ValueError("body of %d bytes, Content-Length %d" % (len(rest), length))
        elif len(rest) != length:
            raise ValueError("body of %d bytes, Content-Length %d" % (len(rest), length))
        body = rest
    else:
        body = rest
    if status in (204, 304) and body:
        raise ValueError("%d with a body" % status)
    return Response(status, (m.group(2) or b"").decode("latin-1"), headers, body)


def _dechunk(b):
    out = []
    pos = 0
    while True:
        eol = b.find(b"\r\n", pos)
        if eol < 0:
            raise ValueError("chunk size line not ended")
        size_s = b[pos:eol].split(b";")[0].strip()
        try:
            size = int(size_s, 16)
        except ValueError:
            raise ValueError("bad chunk size %r" % size_s) from None
        pos = eol + 2
        if size == 0:
            return b"".join(out)
        if pos + size + 2 > len(b) or b[pos + size:pos + size + 2] != b"\r\n":
            raise ValueError("chunk shorter than its size")
        out.append(b[pos:pos + size])
        pos += size + 2
