'use strict';
// SP connections over net sockets: the handshake, message framing, batched
// writes, and the endpoints that bind (accept peers) or dial (and redial
// with back-off) a URL. The patterns' logic (REP, PULL, PUSH) is left to
// the callers: a connection only carries messages.

const net = require('net');
const fs = require('fs');
const { EventEmitter } = require('events');
const wire = require('./wire');

const HANDSHAKE_TIMEOUT = 5000;
const REDIAL_MIN = 50; // ms, as internal/sp
const REDIAL_MAX = 1000;
const BIG = 64 << 10; // messages from this size are written in parts

// Conn is one handshaken SP connection. Events: 'ready' (handshake done),
// 'message' (payload Buffer), 'close' (err or undefined). A message is
// delivered as a view of what the socket read: keep it, copy nothing.
class Conn extends EventEmitter {
  constructor(socket, ipc, self, maxRecv) {
    super();
    this.socket = socket;
    this.ipc = ipc;
    this.self = self;
    this.peer = wire.PEER[self];
    this.ready = false;
    this.closed = false;
    this.corked = false;
    this.remote = ipc ? 'unix' : `${socket.remoteAddress}:${socket.remotePort}`;
    this.reader = new wire.Reader(ipc, maxRecv, (m) => this.emit('message', m));
    this.hs = null; // the peer's header while it arrives
    socket.setNoDelay?.(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail());
    this.timer = setTimeout(() => this.fail(new wire.SPError('sp: handshake timed out', 'ERR_SP_TIMEOUT')), HANDSHAKE_TIMEOUT);
    this.timer.unref?.();
    socket.write(wire.header(self));
  }

  onData(chunk) {
    try {
      if (!this.ready) {
        this.hs = this.hs ? Buffer.concat([this.hs, chunk]) : chunk;
        if (this.hs.length < 8) return;
        wire.checkHeader(this.hs.subarray(0, 8), this.peer);
        chunk = this.hs.subarray(8);
        this.hs = null;
        this.ready = true;
        clearTimeout(this.timer);
        this.emit('ready');
        if (chunk.length === 0 || this.closed) return;
      }
      this.reader.push(chunk);
    } catch (err) {
      this.fail(err);
    }
  }

  // send writes one message made of parts (Buffers or latin1 strings).
  // Messages sent in one tick leave in one write system call: the socket
  // is corked on the first and uncorked on the next tick.
  send(parts) {
    if (this.closed) return false;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    let size = 0;
    for (const p of parts) size += p.length;
    if (size < BIG) return this.socket.write(wire.frame(this.ipc, parts));
    // A big message is not copied into one buffer: its parts leave
    // together (the socket is corked) in one writev.
    let ok = this.socket.write(wire.framePrefix(this.ipc, size));
    for (const p of parts) ok = this.socket.write(p, 'latin1');
    return ok;
  }

  // pause stops reading (and delivering what is buffered) until resume.
  pause() {
    this.reader.paused = true;
    this.socket.pause();
  }

  resume() {
    if (this.closed) return;
    this.reader.paused = false;
    this.socket.resume();
    try {
      this.reader.drain();
    } catch (err) {
      this.fail(err);
    }
  }

  // end closes the connection once what is written has left (the socket
  // is not read meanwhile: a paused reader would never see the peer's
  // end, so the close does not wait for it).
  end() {
    if (this.closed) return;
    this.socket.end(() => this.fail());
  }

  destroy() {
    this.socket.destroy();
    this.fail();
  }

  fail(err) {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.socket.destroy();
    this.emit('close', err);
  }
}

function uncork(c) {
  c.corked = false;
  c.socket.uncork();
}

// Endpoint binds or dials one URL and makes a Conn of every connection:
// onConn(conn) is called for each before its handshake completes (listen
// to 'ready'). A dialling endpoint redials whenever its connection drops,
// with pauses growing from 50 ms to 1 s, until close().
class Endpoint extends EventEmitter {
  constructor(url, { self, listen, maxRecv = 64 << 20, onConn, log }) {
    super();
    this.addr = wire.parseURL(url);
    this.url = url;
    this.self = self;
    this.listen = listen;
    this.maxRecv = maxRecv;
    this.onConn = onConn;
    this.log = log;
    this.conns = new Set();
    this.closed = false;
    this.server = null;
    this.wait = REDIAL_MIN;
    this.redial = null;
  }

  // start binds (resolving once it listens) or starts dialling (resolving
  // at once: the connection comes and goes in the background).
  start() {
    if (this.listen) return this.bind();
    this.dial();
    return Promise.resolve(this);
  }

  bind() {
    return new Promise((resolve, reject) => {
      const srv = net.createServer({ noDelay: true }, (sock) => this.adopt(sock));
      this.server = srv;
      let retried = false;
      const onError = (err) => {
        // A stale socket file left by a dead process is removed, as
        // libnanomsg does, but only when nothing answers on it.
        if (err.code === 'EADDRINUSE' && this.addr.ipc && !retried) {
          retried = true;
          const probe = net.connect(this.addr.path);
          probe.on('connect', () => { probe.destroy(); reject(err); });
          probe.on('error', () => {
            try { fs.unlinkSync(this.addr.path); } catch { /* gone already */ }
            srv.listen(this.addr.path);
          });
          return;
        }
        reject(err);
      };
      srv.on('error', onError);
      srv.on('listening', () => {
        srv.removeListener('error', onError);
        srv.on('error', (err) => this.log?.('warn', `sp: ${this.url}: ${err.message}`));
        resolve(this);
      });
      if (this.addr.ipc) srv.listen(this.addr.path);
      else srv.listen(this.addr.port, this.addr.host);
    });
  }

  // boundAddress is the bound address (for tcp://host:0).
  boundAddress() {
    return this.server?.address();
  }

  dial() {
    if (this.closed) return;
    const sock = this.addr.ipc ? net.connect(this.addr.path) : net.connect(this.addr.port, this.addr.host || '127.0.0.1');
    let connected = false;
    sock.once('connect', () => {
      connected = true;
      this.wait = REDIAL_MIN;
    });
    const c = this.adopt(sock);
    c.once('close', () => {
      if (this.closed) return;
      if (!connected) this.wait = Math.min(2 * this.wait, REDIAL_MAX);
      this.redial = setTimeout(() => { this.redial = null; this.dial(); }, connected ? REDIAL_MIN : this.wait);
    });
  }

  adopt(sock) {
    const c = new Conn(sock, this.addr.ipc, this.self, this.maxRecv);
    this.conns.add(c);
    c.once('close', () => this.conns.delete(c));
    if (this.closed) {
      c.destroy();
      return c;
    }
    this.onConn(c);
    return c;
  }

  // stopTaking stops accepting and redialling; connections stay open.
  stopTaking() {
    this.closed = true;
    if (this.redial) clearTimeout(this.redial);
    this.redial = null;
    if (this.server) {
      this.server.close();
      this.server = null;
    }
  }

  // close stops taking connections and destroys the open ones.
  close() {
    this.stopTaking();
    for (const c of this.conns) c.destroy();
  }
}

module.exports = { Conn, Endpoint, REDIAL_MIN, REDIAL_MAX };
