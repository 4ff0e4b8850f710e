"""nanogate-asgi: serve an ASGI 3 application on a route of format
`frames` (docs/PROTOCOL.md): streamed responses, streamed request bodies
and WebSocket, on asyncio.

    nanogate-asgi myapp:app --bind ipc:///run/stream.sock

Frames come in on a PULL socket (bound or dialled); each request frame
starts a stream, run as one task calling the application; its frames go
back to the gateway's inbound address, which the request names
(X-Nanogate-Inbound), over one PUSH socket per address.

The scope carries, besides ASGI's keys: client from the last
X-Forwarded-For entry, scheme from X-Forwarded-Proto, server from Host, and
scope["extensions"]["nanogate"] = {"session_id", "request_id", "stream"}.
The gateway has already answered a WebSocket handshake when the request
arrives, so websocket.accept sends nothing, and a subprotocol or headers
given with it are not passed on.
"""

import asyncio
import logging
import signal
import sys
from urllib.parse import unquote

from . import cli, frames
from .aiosp import Push, PullServer
from .asgi_stream import Stream
from .http import BadRequest, parse_head, split_host

log = logging.getLogger("nanogate")

# How long the PULL reader waits for room in one stream's inbox before it
# cuts that stream: every stream of the connection waits with it.
STALL_LIMIT = 30.0
# How long a drain waits for the running streams.
DRAIN_TIMEOUT = 30.0

OVERLOADED = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
              b"Retry-After: 1\r\nContent-Length: 20\r\n\r\nService Unavailable\n")
INTERNAL_ERROR = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  b"Content-Length: 22\r\n\r\nInternal Server Error\n")


class ASGIServer:
    def __init__(self, app, max_streams=1024, max_recv=None):
        self.app = app
        self.max_streams = max_streams
        self.pull = PullServer(self.deliver, self.lost, **({"max_recv": max_recv} if max_recv else {}))
        self.streams = {}
        self.tasks = set()
        self.pushes = {}
        self.stopping = False
        self.state = {}
        self._lifespan = None

    # ---- frames from the gateway

    def lost(self, conn):
        """The gateway connection conn is gone, and with it every stream it
        carried: the gateway has cut them (docs/PROTOCOL.md, lifecycle), and
        no end frame will come."""
        for st in [st for st in self.streams.values() if st.conn is conn]:
            st.end()

    async def deliver(self, msg, conn):
        try:
            f = frames.parse(msg)
        except frames.FrameError as e:
            log.warning("nanogate-asgi: bad frame (%d bytes): %s", len(msg), e)
            return
        key = (f.sid, f.stream)
        if f.type == frames.REQUEST:
            await self.open(key, f.body, conn)
            return
        st = self.streams.get(key)
        if st is None:
            return  # a late frame of a finished stream: expected, harmless
        t = f.type
        if t == frames.BODY or t == frames.WS_TEXT or t == frames.WS_BINARY or t == frames.WS_CLOSE:
            if st.inbox.closed or st.inbox.try_put((t, f.body)):
                return
            try:
                await asyncio.wait_for(st.inbox.put((t, f.body)), STALL_LIMIT)
            except asyncio.TimeoutError:
                log.warning("nanogate-asgi: stream cut: its application stopped reading (session %s stream %d)",
                            f.sid, f.stream)
                st.end()
                try:
                    await st.frame(frames.WS_CLOSE if t != frames.BODY else frames.CLOSE,
                                   frames.close_body(1011) if t != frames.BODY else b"")
                except ConnectionError:
                    pass
        elif t == frames.CREDIT:
            n = frames.parse_credit(f.body)
            if n is None:
                log.warning("nanogate-asgi: bad credit frame %r", f.body[:20])
                return
            st.window += n
            st.credit.set()
        elif t == frames.END:
            st.end()

    def push_for(self, url):
        p = self.pushes.get(url)
        if p is None:
            p = self.pushes[url] = Push(url)
        return p

    async def open(self, key, msg, conn):
        sid, num = key
        try:
            method, target, version, headers, length, body_start = parse_head(msg)
        except BadRequest as e:
            log.warning("nanogate-asgi: bad request frame (session %s stream %d): %s", sid, num, e)
            return
        inbound = None
        chunked = False
        for name, value in headers:
            ln = name.lower()
            if ln == "x-nanogate-inbound":
                inbound = value
            elif ln == "transfer-encoding":
                chunked = True
        if not inbound:
            log.warning("nanogate-asgi: request frame without X-Nanogate-Inbound (session %s stream %d)", sid, num)
            return
        try:
            push = self.push_for(inbound)
        except ValueError as e:
            log.warning("nanogate-asgi: request frame names a bad inbound address: %s", e)
            return
        if self.stopping or len(self.streams) >= self.max_streams or key in self.streams:
            if key in self.streams:
                log.warning("nanogate-asgi: request frame for a running stream (session %s stream %d)", sid, num)
                return
            has_body = length is not None or chunked
            hdr = frames.header(sid, frames.RETRY if self.stopping and not has_body else frames.HEADERS, num)
            try:
                if self.stopping and not has_body:
                    await push.send(hdr)
                else:
                    if not self.stopping:
                        log.warning("nanogate-asgi: %d streams running, answering 503", self.max_streams)
                    await push.send(hdr + OVERLOADED)
                    await push.send(frames.header(sid, frames.END, num))
            except ConnectionError as e:
                log.warning("nanogate-asgi: could not answer a request frame: %s", e)
            return
        st = Stream(self, sid, num, push, method)
        st.conn = conn
        st.has_body = length is not None or chunked
        scope, rid = self.scope(st, method, target, version, headers)
        self.streams[key] = st
        early = msg[body_start:]
        if early:
            await st.inbox.put((frames.BODY, early))
            if length is not None and len(early) >= length:
                await st.inbox.put((frames.BODY, b""))
        elif length == 0:
            await st.inbox.put((frames.BODY, b""))
        task = asyncio.get_running_loop().create_task(self.serve(st, scope, rid))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def scope(self, st, method, target, version, headers):
        path, _, query = target.partition("?")
        raw = []
        ws = False
        xff = proto = host = request_id = session_id = ""
        subprotocols = []
        for name, value in headers:
            ln = name.lower()
            if ln == "x-nanogate-inbound":
                continue
            raw.append((ln.encode("latin-1"), value.encode("latin-1")))
            if ln == "x-forwarded-for":
                xff = value
            elif ln == "x-forwarded-proto":
                proto = value.lower()
            elif ln == "host":
                host = value
            elif ln == "x-request-id":
                request_id = value
            elif ln == "x-nanogate-session":
                session_id = value
            elif ln == "upgrade" and value.lower() == "websocket":
                ws = True
            elif ln == "sec-websocket-protocol":
                subprotocols += [p.strip() for p in value.split(",") if p.strip()]
        secure = proto == "https"
        server_name, port = split_host(host)
        scope = {
            "type": "websocket" if ws else "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": version[5:] if version.startswith("HTTP/") else "1.1",
            "scheme": ("wss" if secure else "ws") if ws else ("https" if secure else "http"),
            "path": unquote(path),
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": raw,
            "client": [xff.rsplit(",", 1)[-1].strip(), 0] if xff else None,
            "server": [server_name or "localhost", int(port) if port else (443 if secure else 80)],
            "state": dict(self.state),
            "extensions": {"nanogate": {"session_id": session_id or st.sid, "request_id": request_id,
                                        "stream": st.num,
                                        # True once the stream is over (client gone, cut, or done):
                                        # for code that cannot await http.disconnect (threads).
                                        "ended": lambda: st.ended}},
        }
        if ws:
            scope["subprotocols"] = subprotocols
        else:
            scope["method"] = method
        return scope, request_id

    async def serve(self, st, scope, rid):
        ws = scope["type"] == "websocket"
        receive = st.receive_ws if ws else st.receive_http
        send = st.send_ws if ws else st.send_http
        try:
            try:
                await self.app(scope, receive, send)
            except Exception:
                log.exception("nanogate-asgi: exception serving request request_id=%s path=%s", rid, scope["path"])
                await self.fail(st, ws)
            else:
                await self.finish(st, ws, rid)
        except ConnectionError as e:
            log.warning("nanogate-asgi: reply not sent (request_id=%s): %s", rid, e)
        finally:
            self.streams.pop((st.sid, st.num), None)
            st.end()

    async def fail(self, st, ws):
        if st.ended:
            return
        if ws:
            await st.close_ws(1011)
        elif not st.head_sent:
            # Nothing was sent: the window is whole.
            await st.frame(frames.HEADERS, INTERNAL_ERROR)
            await st.frame(frames.END)
        else:
            await st.frame(frames.CLOSE)  # cut: the client must not take it for whole

    async def finish(self, st, ws, rid):
        if st.ended:
            return
        if ws:
            await st.close_ws(1000)
        elif st.start is None:
            log.error("nanogate-asgi: the application returned without a response (request_id=%s)", rid)
            await self.fail(st, ws)
        elif not st.complete:
            await st.send_http({"type": "http.response.body", "body": b"", "more_body": False})

    # ---- lifespan

    async def startup(self):
        """Run the application's lifespan startup, if it has one."""
        q = asyncio.Queue()
        started = asyncio.get_running_loop().create_future()
        self._lifespan_q = q

        async def receive():
            return await q.get()

        async def send(message):
            t = message["type"]
            if t in ("lifespan.startup.complete", "lifespan.startup.failed") and not started.done():
                started.set_result(message)
            elif t == "lifespan.shutdown.failed":
                log.error("nanogate-asgi: lifespan shutdown failed: %s", message.get("message", ""))

        async def run():
            try:
                await self.app({"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                                "state": self.state}, receive, send)
            except Exception as e:
                if not started.done():
                    log.info("nanogate-asgi: no lifespan support in the application (%s)", e)
                    started.set_result(None)
                else:
                    log.exception("nanogate-asgi: lifespan failed")
            finally:
                if not started.done():
                    started.set_result(None)

        q.put_nowait({"type": "lifespan.startup"})
        self._lifespan = asyncio.get_running_loop().create_task(run())
        msg = await started
        if msg is not None and msg["type"] == "lifespan.startup.failed":
            raise RuntimeError("lifespan startup failed: %s" % msg.get("message", ""))

    async def shutdown_lifespan(self):
        if self._lifespan is None or self._lifespan.done():
            return
        self._lifespan_q.put_nowait({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self._lifespan, 10)
        except asyncio.TimeoutError:
            self._lifespan.cancel()

    # ---- stopping

    async def drain(self, timeout=DRAIN_TIMEOUT):
        """Stop taking streams (requests that arrive meanwhile are given
        back to the gateway with retry), wait for the running ones, then
        close."""
        self.stopping = True
        if self.tasks:
            done, pending = await asyncio.wait(set(self.tasks), timeout=timeout)
            for t in pending:
                t.cancel()
        await self.close()

    async def close(self):
        # The PUSH sockets first: see Push.close.
        await asyncio.gather(*(p.close() for p in list(self.pushes.values())))
        await self.pull.close()
        await self.shutdown_lifespan()


async def serve(app, args):
    server = ASGIServer(app, max_streams=args.max_streams, max_recv=args.max_request_bytes)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.startup()
    try:
        for url in args.bind:
            await server.pull.bind(url)
        for url in args.dial:
            server.pull.dial(url)
    except OSError as e:
        log.error("nanogate-asgi: %s", e)
        await server.close()
        return 1
    print("ready", flush=True)
    log.info("nanogate-asgi: serving %s on %s", args.app, " ".join(args.bind + args.dial))
    await stop.wait()
    log.info("nanogate-asgi: draining")
    await server.drain()
    log.info("nanogate-asgi: stopped")
    return 0


def main(argv=None):
    args = cli.parse_args("nanogate-asgi", "serve an ASGI 3 application behind nanogate (format frames)",
                          argv, threads=False)
    cli.setup_logging(args.log_level)
    app = cli.load_app(args.app)
    if args.wsgi:
        from .wsgi_asgi import WSGIToASGI
        app = WSGIToASGI(app, threads=args.threads)
    return asyncio.run(serve(app, args))


if __name__ == "__main__":
    sys.exit(main())
