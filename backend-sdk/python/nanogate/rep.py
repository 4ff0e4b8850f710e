"""A REP server on threads: one reader thread per connection, a fixed pool
of handler threads fed by one bounded queue, replies written whole (one
sendall) in any order behind their own backtrace, so that the gateway can
keep many requests in flight on one connection.

A request that finds the queue full is answered at once with the busy
reply (503), as fasthttp and the Go SDK shed load, rather than queued
without bound.
"""

import logging
import queue
import socket
import threading
import time

from . import sp

log = logging.getLogger("nanogate")

BUSY_REPLY = (b"HTTP/1.1 503 Service Unavailable\r\n"
              b"Content-Type: text/plain; charset=utf-8\r\n"
              b"Retry-After: 1\r\n"
              b"Content-Length: 20\r\n\r\n"
              b"Service Unavailable\n")

# Drain timing (docs/PROTOCOL.md, Draining): the drain ends once no request
# has arrived for DRAIN_QUIET; DRAIN_MAX bounds it under a REQ peer that
# does not know the notice and keeps sending.
DRAIN_QUIET = 0.1
DRAIN_MAX = 5.0
DRAIN_TIMEOUT = 30.0  # for the requests in flight, as the Go SDK's DrainTimeout

REDIAL_MIN, REDIAL_MAX = 0.01, 1.0


class RepServer:
    """Serves handler(body) -> reply bytes on REP sockets.

    handler(msg, start) runs on one of `threads` handler threads; the
    request body is msg[start:] (msg is the payload, start skips its
    backtrace, so that no copy is made). It returns the whole reply (bytes
    or bytearray) and should not raise: an exception is logged and the
    request is answered 500.
    """

    def __init__(self, handler, threads=32, backlog=1024, max_recv=sp.DEFAULT_MAX_RECV):
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self.handler = handler
        self.threads = threads
        self.max_recv = max_recv
        # SimpleQueue is C code, a third of Queue's cost per hand-off; the
        # bound and the count for drain are kept beside it under one lock.
        self._q = queue.SimpleQueue()
        self._backlog = max(backlog, 1)
        self._pending = 0  # queued or being handled
        self._count_mu = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._mu = threading.Lock()
        self._conns = set()
        self._listeners = []
        self._threads = []  # readers, accept and dial loops
        self._workers = []
        self._stopping = False
        self._stop = threading.Event()
        self._last_read = time.monotonic()
        self._started = False
        self._shed = 0  # requests answered 503 since the last log line
        self._shed_logged = 0.0

    # ---- setup

    def bind(self, url):
        """Listen at url for gateways (endpoint mode "dial")."""
        addr = sp.parse_url(url)
        ln = sp.listen(addr)
        with self._mu:
            self._listeners.append((ln, addr))
        self._spawn(self._accept_loop, ln, addr, name="nanogate-accept")

    def dial(self, url):
        """Connect to a gateway listening at url (endpoint mode "listen"),
        and redial whenever the connection drops."""
        addr = sp.parse_url(url)
        self._spawn(self._dial_loop, addr, name="nanogate-dial")

    def start(self):
        """Start the handler threads (bind and dial call it)."""
        with self._mu:
            if self._started:
                return
            self._started = True
        for i in range(self.threads):
            t = threading.Thread(target=self._work, name="nanogate-handler-%d" % i, daemon=True)
            t.start()
            self._workers.append(t)

    def _spawn(self, target, *args, name):
        self.start()

        def run():
            try:
                target(*args)
            finally:
                with self._mu:
                    self._threads.remove(t)

        t = threading.Thread(target=run, name=name, daemon=True)
        with self._mu:
            self._threads.append(t)
        t.start()

    # ---- connections

    def _accept_loop(self, ln, addr):
        while not self._stop.is_set():
            try:
                s, _ = ln.accept()
            except OSError:
                if self._stop.is_set():
                    return
                log.warning("nanogate: accept on %s failed; retrying", addr.url, exc_info=True)
                self._stop.wait(0.1)
                continue
            self._spawn(self._serve_conn, s, addr, name="nanogate-reader")

    def _dial_loop(self, addr):
        delay = REDIAL_MIN
        while not self._stop.is_set():
            try:
                s = sp.connect(addr)
            except OSError:
                self._stop.wait(delay)
                delay = min(delay * 2, REDIAL_MAX)
                continue
            delay = REDIAL_MIN
            self._serve_conn(s, addr)

    def _serve_conn(self, s, addr):
        cn = sp.Conn(s, addr.ipc, self.max_recv)
        with self._mu:  # before the handshake, so that close can wake it
            if self._stopping:
                cn.close()
                return
            self._conns.add(cn)
        try:
            try:
                cn.handshake(sp.PROTO_REP, sp.PROTO_REQ)
            except (OSError, sp.ProtocolError) as e:
                if not self._stopping:
                    log.warning("nanogate: handshake with a peer on %s failed: %s", addr.url, e)
                return
            log.info("nanogate: gateway connected on %s", addr.url)
            self._read(cn)
        except (OSError, ValueError, sp.ProtocolError) as e:
            if not self._stopping:
                log.warning("nanogate: connection on %s dropped: %s", addr.url, e)
        finally:
            if not self._stopping:
                # The replies still being handled go nowhere: the gateway
                # has answered their clients 502 with the connection.
                with self._mu:
                    self._conns.discard(cn)
                cn.close()

    def _read(self, cn):
        put = self._q.put
        mu = self._count_mu
        limit = self._backlog + self.threads
        while True:
            msg = cn.recv()
            if msg is None:
                return
            self._last_read = time.monotonic()
            n = sp.backtrace_len(msg)
            hdr = msg[:n]
            with mu:
                full = self._pending >= limit
                if not full:
                    self._pending += 1
                    self._idle.clear()
            if full:
                self._shed += 1
                now = time.monotonic()
                if now - self._shed_logged >= 1.0:  # one line a second, not one per request
                    log.warning("nanogate: %d threads busy and %d requests waiting: answered 503 "
                                "(%d since the last line)", self.threads, self._backlog, self._shed)
                    self._shed_logged, self._shed = now, 0
                self._reply(cn, hdr, BUSY_REPLY)
            else:
                put((cn, hdr, msg, n))

    # ---- handlers

    def _work(self):
        q = self._q
        handler = self.handler
        while True:
            item = q.get()
            if item is None:
                return
            cn, hdr, msg, n = item
            try:
                reply = handler(msg, n)
            except BaseException:
                log.exception("nanogate: handler failed")
                reply = ERROR_REPLY
            self._reply(cn, hdr, reply)
            with self._count_mu:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

    @staticmethod
    def _reply(cn, hdr, reply):
        try:
            cn.send(hdr, reply)
        except OSError:
            pass  # the connection is gone; its reader says so

    # ---- stopping

    def drain(self):
        """Tell every connected gateway that this server is going away (the
        drain notice), serve what still arrives until DRAIN_QUIET passes
        without a request, then stop reading, finish the requests taken,
        and close. Blocks until done."""
        with self._mu:
            conns = [cn for cn in self._conns if cn.ready]
        for cn in conns:
            self._reply(cn, sp.DRAIN_HEADER, sp.DRAIN_BODY)
        if conns:
            deadline = time.monotonic() + DRAIN_MAX
            self._last_read = max(self._last_read, time.monotonic())
            while True:
                now = time.monotonic()
                quiet_until = self._last_read + DRAIN_QUIET
                if now >= quiet_until or now >= deadline:
                    break
                self._stop.wait(min(quiet_until, deadline) - now)
        self.close(wait=True)

    def close(self, wait=False):
        """Stop taking connections and requests; with wait, finish the
        requests already taken and send their replies first."""
        with self._mu:
            self._stopping = True
            listeners = self._listeners[:]
            conns = list(self._conns)
        self._stop.set()
        for ln, addr in listeners:
            try:
                ln.shutdown(socket.SHUT_RDWR)  # wakes accept(); close alone does not
            except OSError:
                pass
            ln.close()
            if addr.ipc:
                _unlink_quietly(addr.address)
        for cn in conns:
            cn.stop_reading()
        with self._mu:
            running = self._threads[:]
        for t in running:
            t.join(timeout=5)
        if wait and not self._idle.wait(DRAIN_TIMEOUT):
            log.warning("nanogate: requests still running after %.0f s; closing", DRAIN_TIMEOUT)
        for cn in conns:
            cn.close()
        for _ in self._workers:
            self._q.put(None)
        if wait:
            for t in self._workers:
                t.join(timeout=5)


ERROR_REPLY = (b"HTTP/1.1 500 Internal Server Error\r\n"
               b"Content-Type: text/plain; charset=utf-8\r\n"
               b"Content-Length: 22\r\n\r\n"
               b"Internal Server Error\n")


def _unlink_quietly(path):
    import os
    try:
        os.unlink(path)
    except OSError:
        pass
