'use strict';
// StreamServer serves a request listener on routes of format `frames`
// (docs/PROTOCOL.md): requests arrive on a PULL socket as frames, and each
// reply goes, as frames, to the gateway's inbound address that the request
// names. What changes for the listener, next to format http:
//
//   - res.write() sends: what is written in one tick leaves as one frame
//     on the next, so server-sent events reach the client as they happen;
//     a response ended in the tick it started is sent whole, with its
//     Content-Length.
//   - req is read as the client sends the body.
//   - res.write() returns false, and 'drain' follows, when the stream's
//     window (1 MiB, then what the gateway's credit frames grant) is used
//     up: the client does not keep up.
//   - the client going away closes req and res ('close'), as a dropped
//     connection does on Node's own server.
//   - a WebSocket request (Upgrade: websocket; the gateway has answered
//     the handshake already) goes to onWebSocket(ws, req) or the server's
//     'websocket' event, with a ws-like object (lib/websocket.js).

const wire = require('./wire');
const http1 = require('./http1');
const frames = require('./frames');
const { Outbound } = require('./outbound');
const { Stream } = require('./exchange');
const { WorkerBase } = require('./base');

const DEFAULTS = {
  maxStreams: 1024, // streams at once; a request past it is answered 503
  maxRecvSize: 64 << 20,
  maxQueuedBody: 1 << 20, // request body bytes waiting for the listener before the gateway's connection is paused
  stallLimit: 30000, // ms a stream may keep the gateway's connection paused before it is cut
  shutdownTimeout: 30000,
};

const MAX_INBOUNDS = 16; // distinct inbound addresses (a gateway names one)

const overloaded = http1.reply(503, 'Service Unavailable\n', ['Content-Type', 'text/plain; charset=utf-8', 'Retry-After', '1']);

class StreamServer extends WorkerBase {
  constructor(app, opts = {}) {
    super(app, opts, DEFAULTS, wire.PROTO.PULL);
    if (opts.onWebSocket) this.on('websocket', opts.onWebSocket);
    this.outbounds = new Map();
    this.streams = new Map();
    this.idle = null;
  }

  adopt(c) {
    c.once('ready', () => this.log('info', 'gateway connected', { remote: c.remote }));
    c.on('message', (msg) => this.deliver(c, msg));
    c.once('close', (err) => {
      if (err) this.log('warn', 'gateway connection failed', { err: err.message });
      // The gateway cut the streams it sent here (docs/PROTOCOL.md,
      // lifecycle): nothing more will come for them, not even an end.
      for (const st of [...this.streams.values()]) if (st.conn === c) st.gatewayEnded();
    });
  }

  // deliver takes one frame from the gateway.
  deliver(c, msg) {
    let f;
    try {
      f = frames.parse(msg);
    } catch (err) {
      this.log('warn', 'bad frame', { err: err.message, size: msg.length });
      return;
    }
    const key = `${f.sid}/${f.stream}`;
    if (f.type === 'request') {
      this.open(c, key, f);
      return;
    }
    const st = this.streams.get(key);
    if (!st) return; // late frames of a stream that ended: harmless
    switch (f.type) {
      case 'body':
        st.body(c, f.body);
        break;
      case 'websocket':
      case 'websocket-binary':
        if (st.ws) st.ws.receive(f.body, f.type === 'websocket-binary');
        break;
      case 'websocket-close':
        if (st.ws) st.ws.clientClosed(frames.parseClientClose(f.body));
        break;
      case 'credit': {
        const n = frames.parseCredit(f.body);
        if (n < 0) this.log('warn', 'bad credit frame', { body: f.body.toString('latin1') });
        else st.credit(n);
        break;
      }
      case 'end':
        st.gatewayEnded();
        break;
      default: // ping, pong and later types mean nothing here
    }
  }

  outbound(url) {
    let o = this.outbounds.get(url);
    if (o) return o;
    if (this.outbounds.size >= MAX_INBOUNDS) throw new Error(`already ${MAX_INBOUNDS} inbound addresses`);
    wire.parseURL(url); // throws for what cannot be dialled
    o = new Outbound(url, this.log);
    this.outbounds.set(url, o);
    return o;
  }

  open(c, key, f) {
    let head;
    let out;
    try {
      head = http1.parseHead(f.body);
      const inbound = http1.lastHeaderValue(head.rawHeaders, 'x-nanogate-inbound');
      if (!inbound) throw new Error('request frame has no X-Nanogate-Inbound header');
      out = this.outbound(inbound);
    } catch (err) {
      // The gateway checked the client's request: a head it sends and this
      // parser refuses is a bug on one side. Logged; its timeout answers.
      this.log('warn', 'bad request frame', { err: err.message, session: f.sid, stream: f.stream });
      return;
    }
    if (this.stopping) {
      out.send([frames.header(f.sid, 'retry', f.stream)]);
      return;
    }
    if (this.streams.has(key)) {
      this.log('warn', 'request frame for a running stream', { session: f.sid, stream: f.stream });
      return;
    }
    if (this.streams.size >= this.opts.maxStreams) {
      this.log('warn', 'too many streams, answering 503', { max_streams: this.opts.maxStreams });
      out.send([frames.header(f.sid, 'headers', f.stream), overloaded]);
      out.send([frames.header(f.sid, 'end', f.stream)]);
      return;
    }
    const st = new Stream(this, key, f.sid, f.stream, out, head, f.body.subarray(head.bodyStart));
    st.conn = c;
    this.streams.set(key, st);
    st.start();
  }

  forget(st) {
    if (this.streams.get(st.key) === st) this.streams.delete(st.key);
    if (this.streams.size === 0 && this.idle) this.idle();
  }

  // shutdown stops taking streams (a request that arrives meanwhile goes
  // back to the gateway with a retry frame, for another worker), waits for
  // the running ones to end (at most shutdownTimeout), writes their last
  // frames, then closes the sockets.
  shutdown() {
    if (!this.shutdownPromise) this.shutdownPromise = this.drain();
    return this.shutdownPromise;
  }

  async drain() {
    this.stopping = true;
    if (this.streams.size > 0) {
      let timer;
      await new Promise((resolve) => {
        this.idle = resolve;
        timer = setTimeout(resolve, this.opts.shutdownTimeout);
      });
      clearTimeout(timer);
    }
    await Promise.all([...this.outbounds.values()].map((o) => o.flush()));
    this.close();
  }

  // close ends every stream and closes the sockets at once.
  close() {
    this.stopping = true;
    for (const st of [...this.streams.values()]) st.gatewayEnded();
    for (const ep of this.endpoints) ep.close();
    for (const o of this.outbounds.values()) o.close();
    this.outbounds.clear();
  }
}

module.exports = { StreamServer, DEFAULTS };
