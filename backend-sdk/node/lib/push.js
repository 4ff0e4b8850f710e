'use strict';
// Pusher sends frames to a client by its session id, from any process,
// through the gateway's inbound address ([sessions] inbound):
//
//   const p = new Pusher('ipc:///tmp/nanogate-inbound.sock');
//   p.text(sessionId, 'hello');        // a WebSocket text message
//   p.binary(sessionId, buf);
//   p.closeSession(sessionId, 4000, 'bye');
//   await p.close();                   // once what was sent has left
//
// Stream 0: the session's current stream (docs/PROTOCOL.md).

const frames = require('./frames');
const { Outbound } = require('./outbound');
const { loggerOf } = require('./log');

const SID = /^[0-9a-f]{32}$/;

class Pusher {
  constructor(inbound, opts = {}) {
    this.out = new Outbound(inbound, loggerOf(opts.log));
  }

  push(sessionId, type, body) {
    if (!SID.test(sessionId)) throw new TypeError(`nanogate: session id ${JSON.stringify(sessionId)} is not 32 lower-case hex digits`);
    const h = frames.header(sessionId, type, 0);
    return this.out.send(body && body.length ? [h, body] : [h]);
  }

  text(sessionId, msg) {
    return this.push(sessionId, 'websocket', Buffer.from(String(msg)));
  }

  binary(sessionId, buf) {
    return this.push(sessionId, 'websocket-binary', Buffer.from(buf));
  }

  closeSession(sessionId, code = 1000, reason = '') {
    return this.push(sessionId, 'websocket-close', Buffer.from(reason ? `${code} ${reason}` : `${code}`));
  }

  async close() {
    await this.out.flush();
    this.out.close();
  }
}

module.exports = { Pusher };
