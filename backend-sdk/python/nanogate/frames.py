"""Session frames (docs/PROTOCOL.md, format frames): the messages of a
session that outlives one reply. One frame is one PUSH/PULL message::

    frame  = sid SP type SP stream LF body
    sid    = 32 lower-case hex digits   ; X-Nanogate-Session
    type   = 1*16( %x61-7A / "-" )      ; a word below
    stream = 1*10DIGIT                  ; decimal, < 2^32
    body   = *OCTET                     ; the rest of the message

Pure: no I/O.
"""

import re

# Gateway to worker.
REQUEST = "request"
# Both directions.
BODY, END, CREDIT = "body", "end", "credit"
WS_TEXT, WS_BINARY, WS_CLOSE = "websocket", "websocket-binary", "websocket-close"
PING, PONG = "ping", "pong"
# Worker to gateway.
HEADERS, CHUNK, CLOSE, RETRY = "headers", "chunk", "close", "retry"

TYPES = frozenset((REQUEST, BODY, END, CREDIT, WS_TEXT, WS_BINARY, WS_CLOSE, PING, PONG,
                   HEADERS, CHUNK, CLOSE, RETRY))

# Body bytes a worker may send on a stream beyond the credit the gateway
# has granted (frames.Window).
WINDOW = 1 << 20
# The largest body a worker puts in one frame, as the Go SDK does.
MAX_FRAME_BODY = 256 << 10

SID_LEN = 32
_SID = re.compile(rb"[0-9a-f]{32}\Z")
_BTYPES = {t.encode(): t for t in TYPES}


class FrameError(ValueError):
    """The message is not a valid frame."""


class Frame:
    __slots__ = ("sid", "type", "stream", "body")

    def __init__(self, sid, type, stream, body):
        self.sid, self.type, self.stream, self.body = sid, type, stream, body

    def __repr__(self):
        return "Frame(%s %s %d, %d bytes)" % (self.sid, self.type, self.stream, len(self.body))


def parse(msg):
    """Parse one frame; sid is the 32-digit hex str, type a str of TYPES,
    stream an int, body bytes. Raise FrameError."""
    if len(msg) < SID_LEN + 5:
        raise FrameError("message shorter than a frame header")
    if msg[SID_LEN] != 0x20:
        raise FrameError("header fields not separated by SP, SP, LF")
    sid = bytes(msg[:SID_LEN])
    if not _SID.match(sid):
        raise FrameError("session id is not 32 lower-case hex digits")
    sp2 = msg.find(b" ", SID_LEN + 1, SID_LEN + 18)
    if sp2 < 0:
        raise FrameError("header fields not separated by SP, SP, LF")
    t = _BTYPES.get(bytes(msg[SID_LEN + 1:sp2]))
    if t is None:
        raise FrameError("unknown frame type")
    i = sp2 + 1
    n = len(msg)
    while i < n and 0x30 <= msg[i] <= 0x39:
        i += 1
    digits = msg[sp2 + 1:i]
    if not digits or len(digits) > 10 or int(digits) > 0xFFFFFFFF:
        raise FrameError("stream is not a decimal number below 2^32")
    if i == n or msg[i] != 0x0A:
        raise FrameError("header fields not separated by SP, SP, LF")
    stream, lf = int(digits), i
    return Frame(sid.decode(), t, stream, bytes(msg[lf + 1:]))


def header(sid, type, stream):
    """The bytes of a frame before its body."""
    return b"%s %s %d\n" % (sid.encode() if isinstance(sid, str) else sid, type.encode(), stream)


def build(sid, type, stream, body=b""):
    return header(sid, type, stream) + body


def parse_credit(body):
    if not body or len(body) > 10 or not body.isdigit():
        return None
    return int(body)


def close_body(code=1000, reason=""):
    b = str(int(code)).encode()
    if reason:
        b += b" " + reason.encode()
    return b


def parse_close(body):
    """(code, reason) of a websocket-close body; empty is 1000. None when
    malformed."""
    if not body:
        return 1000, ""
    num, _, reason = body.partition(b" ")
    if not num or len(num) > 4 or not num.isdigit():
        return None
    return int(num), reason.decode("utf-8", "replace")
