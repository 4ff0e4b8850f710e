'use strict';
// Server serves a request listener on routes of format `http`: a REP
// socket that binds or dials each URL, reads every request the gateway
// pipelines on a connection, runs the listener for each at once (they
// answer in any order) and writes each reply behind its backtrace on the
// connection it came from.

const wire = require('./wire');
const http1 = require('./http1');
const adapter = require('./adapter');
const { WorkerBase } = require('./base');

const DEFAULTS = {
  maxInFlight: 1024, // requests being answered at once; past it the connections stop being read
  maxRecvSize: 64 << 20, // larger requests close the connection (the gateway's max_reply_bytes is 64 MiB too)
  drainQuiet: 100, // ms without a request that end a drain (docs/PROTOCOL.md, Draining)
  drainMax: 2000, // ms a drain waits at most for that quiet, under a gateway that ignores the notice
  shutdownTimeout: 30000, // ms the requests in flight get to finish; then the connections are closed
};

class Server extends WorkerBase {
  constructor(app, opts = {}) {
    super(app, opts, DEFAULTS, wire.PROTO.REP);
    this.conns = new Set();
    this.inFlight = 0;
    this.reads = 0; // requests read so far, for the drain's quiet period
    this.paused = false;
    this.idle = null; // resolves when inFlight reaches 0 during a shutdown
  }

  adopt(c) {
    c.once('ready', () => {
      this.conns.add(c);
      if (this.paused) c.pause();
      this.log('info', 'gateway connected', { remote: c.remote });
    });
    c.on('message', (msg) => this.onRequest(c, msg));
    c.once('close', (err) => {
      if (!this.conns.delete(c)) return;
      if (err) this.log('warn', 'gateway connection failed', { err: err.message });
      else if (!this.stopping) this.log('info', 'gateway disconnected', { remote: c.remote });
    });
  }

  onRequest(c, msg) {
    const n = wire.backtraceLength(msg);
    if (n < 0) {
      this.log('warn', 'malformed request backtrace; closing the connection', { remote: c.remote });
      c.destroy();
      return;
    }
    this.reads++;
    const bt = msg.subarray(0, n);
    if (++this.inFlight >= this.opts.maxInFlight && !this.paused) this.pauseAll();
    let done = false;
    this.handle(msg.subarray(n), (reply) => {
      if (done) return;
      done = true;
      c.send(Array.isArray(reply) ? [bt, ...reply] : [bt, reply]);
      this.inFlight--;
      if (this.paused && this.inFlight < this.opts.maxInFlight / 2 && !this.stopping) this.resumeAll();
      if (this.inFlight === 0 && this.idle) this.idle();
    });
  }

  // handle answers one request message; send takes the reply, a Buffer
  // or an array of Buffers, once.
  handle(msg, send) {
    let head;
    try {
      head = http1.parseRequest(msg);
    } catch (err) {
      this.log('warn', err.message);
      send(http1.errorReply(400));
      return;
    }
    const sink = new Collector();
    const sock = new adapter.FakeSocket(http1.clientIP(head.rawHeaders), sink);
    const req = adapter.makeRequest(sock, head);
    const requestId = http1.lastHeaderValue(head.rawHeaders, 'x-request-id');
    req.nanogate = { sessionId: http1.lastHeaderValue(head.rawHeaders, 'x-nanogate-session'), requestId };
    if (head.body.length > 0) req.push(head.body);
    adapter.endRequest(req);
    const res = adapter.makeResponse(req, sock);
    let answered = false;
    res.once('finish', () => {
      if (answered) return;
      answered = true;
      send(sink.chunks);
      adapter.releaseResponse(req, res, sock);
    });
    adapter.runListener(this.app, req, res, (err) => {
      this.log('error', 'request listener threw', { request_id: requestId, method: req.method, url: req.url, err });
      if (answered) return;
      answered = true;
      send(http1.errorReply(500, requestId));
      // What the listener still writes goes nowhere.
      sock.destroy();
      adapter.releaseResponse(req, res, sock);
    });
  }

  pauseAll() {
    this.paused = true;
    for (const c of this.conns) c.pause();
  }

  resumeAll() {
    this.paused = false;
    for (const c of this.conns) c.resume();
  }

  // shutdown drains: it tells every gateway connection that this worker is
  // going away (the drain notice), serves what still arrives until
  // drainQuiet passes without a request, stops reading, lets the requests
  // in flight finish (at most shutdownTimeout), then closes the
  // connections once their replies are written. Safe to call twice.
  shutdown() {
    if (!this.shutdownPromise) this.shutdownPromise = this.drain();
    return this.shutdownPromise;
  }

  async drain() {
    for (const c of this.conns) c.send([wire.DRAIN_ID, wire.DRAIN_BODY]);
    if (this.conns.size > 0) {
      const start = Date.now();
      const tick = this.opts.drainQuiet / 4;
      let last = this.reads;
      let quietSince = Date.now();
      while (Date.now() - quietSince < this.opts.drainQuiet && Date.now() - start < this.opts.drainMax) {
        await sleep(tick);
        if (this.reads !== last) {
          last = this.reads;
          quietSince = Date.now();
        }
      }
    }
    this.stopping = true;
    for (const ep of this.endpoints) ep.stopTaking();
    for (const c of this.conns) c.pause();
    if (this.inFlight > 0) {
      let timer;
      await new Promise((resolve) => {
        this.idle = resolve;
        timer = setTimeout(resolve, this.opts.shutdownTimeout);
      });
      clearTimeout(timer);
      if (this.inFlight > 0) this.log('warn', 'shutdown timeout: closing with requests in flight', { in_flight: this.inFlight });
    }
    await Promise.all([...this.conns].map((c) => new Promise((resolve) => {
      c.once('close', resolve);
      c.end();
    })));
    this.close();
  }

  // close closes every socket at once; replies not yet written are lost.
  close() {
    this.stopping = true;
    for (const ep of this.endpoints) ep.close();
    for (const c of this.conns) c.destroy();
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Collector gathers what a response writes, for one reply message: latin1
// strings and Buffers (adapter.FakeSocket), which wire.frame takes as they are.
class Collector {
  constructor() {
    this.chunks = [];
  }

  // bytes returns what was written as one Buffer (for tests).
  bytes() {
    return Buffer.concat(this.chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'latin1') : c)));
  }

  write(chunk, cb) {
    this.chunks.push(chunk);
    cb();
  }

  writev(chunks, cb) {
    for (const c of chunks) this.chunks.push(c);
    cb();
  }
}

module.exports = { Server, Collector, DEFAULTS };
