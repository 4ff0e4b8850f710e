"""The SP wire over asyncio streams, for the ASGI server: the PULL side
that takes frames from the gateway (bind or dial) and the PUSH side that
sends frames to the gateway's inbound address (dial, redialled)."""

import asyncio
import logging

from . import sp

log = logging.getLogger("nanogate")

# Above this many bytes queued in a connection's transport, senders wait
# for it to drain: a gateway that reads slowly slows the worker down
# instead of growing its memory.
WRITE_HIGH = 512 << 10


async def open_addr(addr):
    if addr.ipc:
        return await asyncio.open_unix_connection(addr.address, limit=1 << 20)
    return await asyncio.open_connection(addr.address[0], addr.address[1], limit=1 << 20)


async def handshake(reader, writer, self_proto, peer_proto):
    writer.write(sp.conn_header(self_proto))
    await writer.drain()
    h = await asyncio.wait_for(reader.readexactly(8), sp.HANDSHAKE_TIMEOUT)
    sp.check_header(h, peer_proto)


async def read_message(reader, ipc, max_size):
    """The next message, or None at a clean end of the connection."""
    try:
        p = await reader.readexactly(9 if ipc else 8)
    except asyncio.IncompleteReadError as e:
        if e.partial:
            raise sp.ProtocolError("connection closed inside a message") from None
        return None
    size = sp.parse_prefix(p, ipc, max_size)
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise sp.ProtocolError("connection closed inside a message") from None


class PullServer:
    """Takes messages from gateways on PULL sockets; deliver(msg, conn) is
    awaited for each, in order, per connection (its waits are the
    back-pressure the protocol relies on); lost(conn) is called when a
    connection ends. conn is an opaque object naming the connection."""

    def __init__(self, deliver, lost, max_recv=sp.DEFAULT_MAX_RECV):
        self.deliver = deliver
        self.lost = lost
        self.max_recv = max_recv
        self._servers = []
        self._tasks = set()
        self._writers = set()
        self._closing = False

    async def bind(self, url):
        addr = sp.parse_url(url)
        ln = sp.listen(addr)  # removes a stale socket file as libnanomsg does

        async def on_conn(reader, writer):
            await self._serve(reader, writer, addr)
        if addr.ipc:
            srv = await asyncio.start_unix_server(on_conn, sock=ln, limit=1 << 20)
        else:
            srv = await asyncio.start_server(on_conn, sock=ln, limit=1 << 20)
        self._servers.append((srv, addr))

    def dial(self, url):
        addr = sp.parse_url(url)
        t = asyncio.get_running_loop().create_task(self._dial_loop(addr))
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _dial_loop(self, addr):
        delay = 0.01
        while not self._closing:
            try:
                reader, writer = await open_addr(addr)
            except OSError:
                await asyncio.sleep(delay)  # redial back-off, not a wait for an event
                delay = min(delay * 2, 1.0)
                continue
            delay = 0.01
            await self._serve(reader, writer, addr)

    async def _serve(self, reader, writer, addr):
        self._writers.add(writer)
        conn = object()
        try:
            await handshake(reader, writer, sp.PROTO_PULL, sp.PROTO_PUSH)
            log.info("nanogate: gateway connected on %s", addr.url)
            while True:
                msg = await read_message(reader, addr.ipc, self.max_recv)
                if msg is None:
                    break
                await self.deliver(msg, conn)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, sp.ProtocolError) as e:
            if not self._closing:
                log.warning("nanogate: connection on %s dropped: %s", addr.url, e)
        finally:
            self._writers.discard(writer)
            writer.close()
            self.lost(conn)

    async def close(self):
        self._closing = True
        for srv, addr in self._servers:
            srv.close()
            if addr.ipc:
                try:
                    import os
                    os.unlink(addr.address)
                except OSError:
                    pass
        for w in list(self._writers):
            w.close()
        for t in list(self._tasks):
            t.cancel()
        for srv, _ in self._servers:
            await srv.wait_closed()


class Push:
    """A PUSH socket dialled to one address (the gateway's inbound), and
    redialled whenever the connection drops. send waits while it is down,
    up to connect_wait seconds."""

    def __init__(self, url, connect_wait=10.0):
        self.addr = sp.parse_url(url)
        self.connect_wait = connect_wait
        self._writer = None
        self._out = []  # messages of this turn of the loop, written by _flush
        self._queued = 0
        self._flush_due = False
        self._up = asyncio.Event()
        self._closing = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self):
        delay = 0.01
        while not self._closing:
            try:
                reader, writer = await open_addr(self.addr)
                await handshake(reader, writer, sp.PROTO_PUSH, sp.PROTO_PULL)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, sp.ProtocolError) as e:
                log.debug("nanogate: inbound %s: %s", self.addr.url, e)
                await asyncio.sleep(delay)  # redial back-off
                delay = min(delay * 2, 1.0)
                continue
            delay = 0.01
            self._writer = writer
            self._up.set()
            try:
                # A PULL peer sends nothing: a read ends when it goes away.
                await reader.read(1)
            except OSError:
                pass
            finally:
                self._up.clear()
                self._writer = None
                writer.close()
            if not self._closing:
                log.warning("nanogate: connection to the gateway's inbound %s lost; redialling", self.addr.url)

    async def send(self, payload):
        """Send one message (bytes). Messages sent in one turn of the event
        loop leave in one write (one system call for a reply's head and end,
        and for many streams' frames)."""
        w = self._writer
        if w is None:
            try:
                await asyncio.wait_for(self._up.wait(), self.connect_wait)
            except asyncio.TimeoutError:
                raise ConnectionError("no connection to the gateway's inbound %s" % self.addr.url) from None
            w = self._writer
            if w is None:
                raise ConnectionError("connection to %s lost" % self.addr.url)
        self._out.append(sp.frame_prefix(self.addr.ipc, len(payload)))
        self._out.append(payload)
        self._queued += len(payload)
        if not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)
        if self._queued + w.transport.get_write_buffer_size() > WRITE_HIGH:
            self._flush()
            await w.drain()

    def _flush(self):
        self._flush_due = False
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        self._queued = 0
        w = self._writer
        if w is not None:
            w.write(data)
        # else the connection went down: the frames are lost with it, as
        # the gateway's streams on it are

    async def close(self, linger=2.0):
        """Close after what was sent has reached the gateway: the write side
        is shut, and the gateway's reader, once it has read every frame,
        closes its end, which ends _run. Frames of a stream and the end of
        the PULL connection travel on different sockets; closing the PULL
        first would let the gateway cut a stream whose last frames were
        still on their way."""
        self._closing = True
        self._flush()
        w = self._writer
        if w is not None:
            try:
                await w.drain()
                if w.can_write_eof():
                    w.write_eof()
            except OSError:
                pass
        try:
            await asyncio.wait_for(asyncio.shield(self._task), linger if w is not None else 0)
        except (asyncio.TimeoutError, asyncio.CancelledError, Exception):
            pass
        self._task.cancel()
        try:
            await self._task
        except (asyncio.CancelledError, Exception):
            pass
        if self._writer is not None:
            self._writer.close()
