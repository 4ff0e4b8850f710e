'use strict';
// Outbound is a PUSH socket that dials one gateway inbound address
// ([sessions] inbound, named by X-Nanogate-Inbound in every request frame)
// and keeps redialling it. Frames sent while it is not connected wait, up
// to SEND_WAIT ms and MAX_QUEUED bytes; past that they are dropped and
// logged (the gateway cuts the streams that miss them).

const wire = require('./wire');
const { Endpoint } = require('./sp');

const SEND_WAIT = 5000;
const MAX_QUEUED = 64 << 20;

class Outbound {
  constructor(url, log) {
    this.url = url;
    this.log = log;
    this.conn = null;
    this.queue = [];
    this.queued = 0;
    this.timer = null;
    this.closed = false;
    this.waiters = []; // resolve functions of flush()
    this.ep = new Endpoint(url, {
      self: wire.PROTO.PUSH, listen: false, log,
      onConn: (c) => this.adopt(c),
    });
    this.ep.start();
  }

  adopt(c) {
    c.once('ready', () => {
      this.conn = c;
      this.log('info', 'connected to the gateway inbound', { url: this.url });
      clearTimeout(this.timer);
      this.timer = null;
      const q = this.queue;
      this.queue = [];
      this.queued = 0;
      for (const m of q) c.send(m);
      this.settle();
    });
    // A PULL peer sends nothing: anything it does is a protocol error.
    c.on('message', () => c.destroy());
    c.once('close', (err) => {
      if (this.conn === c) this.conn = null;
      if (!this.closed && c.ready) this.log('warn', 'gateway inbound disconnected', { url: this.url, err: err && err.message });
    });
  }

  // send writes one frame (an array of Buffers or latin1 strings).
  send(parts) {
    if (this.closed) return false;
    if (this.conn) return this.conn.send(parts);
    let size = 0;
    for (const p of parts) size += p.length;
    if (this.queued + size > MAX_QUEUED) {
      this.log('error', 'gateway inbound unreachable and its queue is full: frame dropped', { url: this.url });
      return false;
    }
    this.queue.push(parts);
    this.queued += size;
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.queue.length === 0) return;
        this.log('error', `gateway inbound not reachable within ${SEND_WAIT} ms: frames dropped`, { url: this.url, frames: this.queue.length });
        this.queue = [];
        this.queued = 0;
        this.settle();
      }, SEND_WAIT);
    }
    return true;
  }

  // flush resolves once nothing waits for a connection and what was sent
  // has been handed to the kernel.
  flush() {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.settle();
    });
  }

  settle() {
    if (this.queue.length > 0 || this.waiters.length === 0) return;
    const w = this.waiters;
    this.waiters = [];
    const c = this.conn;
    let called = false;
    const done = () => {
      if (!called) w.forEach((r) => r());
      called = true;
    };
    // setImmediate: past the uncork of this tick's writes.
    setImmediate(() => {
      if (c && !c.closed && c.socket.writableLength > 0) {
        c.socket.once('drain', done);
        c.once('close', done);
      } else {
        done();
      }
    });
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.ep.close();
    this.conn = null;
    const w = this.waiters;
    this.waiters = [];
    w.forEach((r) => r());
  }
}

module.exports = { Outbound, SEND_WAIT };
