"""One stream of nanogate-asgi: the ASGI receive and send of one request
(http) or WebSocket, over its frames: the inbox of what the gateway sent,
the window of what may be sent (docs/PROTOCOL.md, flow control)."""

import asyncio
import collections

from . import frames
from .http import build_head, check_header, reason
from .http import digits as _digits

# What may wait for the application on one stream (request body pieces,
# WebSocket messages), in items and bytes; past it the PULL reader waits
# (the gateway's back-pressure), for at most asgi.STALL_LIMIT before the
# stream is cut, since every stream of the connection waits with it.
QUEUE_ITEMS = 64
QUEUE_BYTES = 1 << 20

# Fields the gateway re-frames: a worker never sends them (docs/PROTOCOL.md).
_HOP = {"transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade", "proxy-connection"}


class Inbox:
    """The frames of one stream between the PULL reader (put) and the
    application (get), bounded in items and bytes; one item is always
    taken, so a message over the byte bound still passes."""

    def __init__(self):
        self.items = collections.deque()
        self.bytes = 0
        self.closed = False
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()

    def try_put(self, item):
        """Queue item if there is room, without waiting."""
        if self.items and (len(self.items) >= QUEUE_ITEMS or self.bytes >= QUEUE_BYTES):
            return False
        if not self.closed:
            self.items.append(item)
            self.bytes += len(item[1])
            self._readable.set()
        return True

    async def put(self, item):
        while self.items and (len(self.items) >= QUEUE_ITEMS or self.bytes >= QUEUE_BYTES):
            if self.closed:
                return
            self._writable.clear()
            await self._writable.wait()
        if self.closed:
            return
        self.items.append(item)
        self.bytes += len(item[1])
        self._readable.set()

    async def get(self):
        """The next item, or None once closed and empty."""
        while not self.items:
            if self.closed:
                return None
            self._readable.clear()
            await self._readable.wait()
        item = self.items.popleft()
        self.bytes -= len(item[1])
        self._writable.set()
        return item

    def close(self):
        self.closed = True
        self._readable.set()
        self._writable.set()


class Stream:
    """One request of a session: its scope, its inbox, its window."""

    def __init__(self, server, sid, num, push, method):
        self.server, self.sid, self.num, self.push = server, sid, num, push
        self.hdr_prefix = sid.encode()
        self.inbox = Inbox()
        self.window = frames.WINDOW
        self.credit = asyncio.Event()
        self.ended = False  # the gateway ended it (end frame), or the worker finished
        self.is_head = method == "HEAD"
        # http
        self.has_body = False
        self.body_done = False
        self.start = None  # http.response.start message
        self.head_sent = False
        self.complete = False
        self.declared = None  # Content-Length the application gave
        self.sent_body = 0
        # websocket
        self.connected = False
        self.close_sent = False
        self.client_closed = False
        self.conn = None  # the PULL connection that carries it

    async def frame(self, type, body=b""):
        await self.push.send(frames.header(self.sid, type, self.num) + body)

    def end(self):
        self.ended = True
        self.inbox.close()
        self.credit.set()

    async def take_window(self, n):
        """Wait until n body bytes may be sent (flow control), then count
        them. False when the stream ended meanwhile."""
        while self.window < n and not self.ended:
            self.credit.clear()
            await self.credit.wait()
        if self.ended:
            return False
        self.window -= n
        return True

    # ---- http

    async def receive_http(self):
        if not self.body_done:
            if not self.has_body:
                self.body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            item = await self.inbox.get()
            if item is None:
                self.body_done = True
                return {"type": "http.disconnect"}
            data = item[1]
            if not data:
                self.body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": data, "more_body": True}
        # The body is read: the next event is the end of the stream.
        while not self.ended and not self.complete:
            await self.inbox.get()
        return {"type": "http.disconnect"}

    async def send_http(self, message):
        t = message["type"]
        if t == "http.response.start":
            if self.start is not None:
                raise RuntimeError("http.response.start sent twice")
            status = message["status"]
            if not isinstance(status, int) or not 200 <= status <= 999:
                raise ValueError("bad status %r (1xx is not supported)" % (status,))
            self.start = message
            return
        if t != "http.response.body":
            raise RuntimeError("unexpected ASGI message %r on an http stream" % t)
        if self.start is None:
            raise RuntimeError("http.response.body before http.response.start")
        if self.complete:
            raise RuntimeError("http.response.body after the response completed")
        body = message.get("body", b"")
        more = message.get("more_body", False)
        if self.ended:
            self.complete = not more
            return  # the client is gone: as uvicorn, writes go nowhere
        if not self.head_sent:
            await self._send_head(body, more)
        elif body:
            await self._send_body(body)
        if not more:
            self.complete = True
            if not self.ended:
                if not self._body_allowed():
                    pass  # a HEAD, 204 or 304 head completes the response
                elif self.declared is None:
                    await self.frame(frames.END)
                elif self.sent_body < self.declared:
                    await self.frame(frames.CLOSE)  # short of its length: cut
                # else a whole Content-Length completed it (docs/PROTOCOL.md)
                self.end()

    def _body_allowed(self):
        status = self.start["status"]
        return not self.is_head and status not in (204, 304)

    async def _send_head(self, body, more):
        status = self.start["status"]
        headers = []
        for name, value in self.start.get("headers", ()):
            name = name.decode("latin-1") if isinstance(name, (bytes, bytearray)) else str(name)
            value = value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)
            check_header(name, value)
            lname = name.lower()
            if lname in _HOP:
                continue
            if lname == "content-length":
                if not _digits(value.strip()):
                    raise ValueError("bad Content-Length %r" % value)
                self.declared = int(value)
            headers.append((name, value))
        allowed = self._body_allowed()
        if self.declared is None and not more and allowed:
            headers.append(("Content-Length", str(len(body))))
            self.declared = len(body)
        if self.is_head and self.declared is None and not more and status not in (204, 304):
            headers.append(("Content-Length", str(len(body))))
        head = build_head("%d %s" % (status, reason(status)), headers)
        if not allowed:
            body = b""
        elif self.declared is not None and len(body) > self.declared:
            body = body[:self.declared]
        first = body[:frames.MAX_FRAME_BODY]
        if first and not await self.take_window(len(first)):
            return
        self.head_sent = True
        self.sent_body += len(first)
        await self.frame(frames.HEADERS, head + first)
        if len(body) > len(first):
            await self._send_body(body[len(first):])

    async def _send_body(self, body):
        if not self._body_allowed():
            return
        if self.declared is not None:
            room = self.declared - self.sent_body
            if len(body) > room:
                body = body[:max(room, 0)]
        view = memoryview(body)
        while view and not self.ended:
            while self.window <= 0 and not self.ended:
                self.credit.clear()
                await self.credit.wait()
            if self.ended:
                return
            n = min(len(view), frames.MAX_FRAME_BODY, self.window)
            self.window -= n
            self.sent_body += n
            await self.frame(frames.BODY, bytes(view[:n]))
            view = view[n:]

    # ---- websocket

    async def receive_ws(self):
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        if self.client_closed:
            return {"type": "websocket.disconnect", "code": 1005}
        item = await self.inbox.get()
        if item is None:
            self.client_closed = True
            return {"type": "websocket.disconnect", "code": 1006}
        t, data = item
        if t == frames.WS_TEXT:
            return {"type": "websocket.receive", "text": data.decode("utf-8", "replace")}
        if t == frames.WS_BINARY:
            return {"type": "websocket.receive", "bytes": data}
        self.client_closed = True
        code, why = frames.parse_close(data) or (1005, "")
        return {"type": "websocket.disconnect", "code": code, "reason": why}

    async def send_ws(self, message):
        t = message["type"]
        if t == "websocket.accept":
            return  # the gateway answered the handshake already
        if t == "websocket.send":
            if self.close_sent or self.ended:
                return
            text = message.get("text")
            if text is not None:
                data, ft = text.encode("utf-8"), frames.WS_TEXT
            else:
                data, ft = bytes(message.get("bytes") or b""), frames.WS_BINARY
            if len(data) > frames.WINDOW:
                raise ValueError("websocket message of %d bytes over the stream window (%d)"
                                 % (len(data), frames.WINDOW))
            if await self.take_window(len(data)):
                await self.frame(ft, data)
            return
        if t == "websocket.close":
            await self.close_ws(message.get("code", 1000), message.get("reason") or "")
            return
        raise RuntimeError("unexpected ASGI message %r on a websocket stream" % t)

    async def close_ws(self, code, why=""):
        if self.close_sent or self.ended:
            return
        self.close_sent = True
        if not self.client_closed:
            await self.frame(frames.WS_CLOSE, frames.close_body(code, why))
        self.end()
