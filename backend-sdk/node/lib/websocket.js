'use strict';
// WebSocket is a client's WebSocket on a frames stream, shaped like the
// `ws` package's: the gateway answered the handshake and frames the
// messages, so what arrives here is one whole message.
//
//   ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
//   ws.on('close', (code, reason) => ...);   // reason is a Buffer, as in ws
//   ws.send('text'); ws.send(Buffer.from([1, 2]));   // a string is a text message
//   ws.close(4000, 'bye');
//
// Messages to the client count against the stream's window (1 MiB, then
// what the gateway grants): past it they wait here, and bufferedAmount
// says how many bytes do.

const { EventEmitter } = require('events');
const frames = require('./frames');

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

class WebSocket extends EventEmitter {
  constructor(stream) {
    super();
    this.stream = stream;
    this.readyState = OPEN;
    this.closeSent = false;
    this.queue = []; // [type, Buffer, cb] waiting for window
    this.bufferedAmount = 0;
    this.protocol = '';
  }

  // sessionId names the client connection (X-Nanogate-Session): what a
  // Pusher sends to.
  get sessionId() {
    return this.stream.sid;
  }

  // send sends one message: a string as text, a Buffer, ArrayBuffer or
  // typed array as binary (options.binary overrides). cb(err) is called
  // once it has been handed to the gateway's connection.
  send(data, options, cb) {
    if (typeof options === 'function') {
      cb = options;
      options = {};
    }
    options = options || {};
    let binary = typeof data !== 'string';
    if (options.binary !== undefined) binary = !!options.binary;
    let buf;
    if (typeof data === 'string') buf = Buffer.from(data);
    else if (Buffer.isBuffer(data)) buf = data;
    else if (data instanceof ArrayBuffer) buf = Buffer.from(data);
    else if (ArrayBuffer.isView(data)) buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    else buf = Buffer.from(String(data));
    if (this.readyState !== OPEN) {
      const err = new Error(`WebSocket is not open: readyState ${this.readyState}`);
      if (cb) process.nextTick(cb, err);
      else throw err;
      return;
    }
    if (buf.length > frames.WINDOW) {
      const err = new Error(`WebSocket message of ${buf.length} bytes over the stream's window of ${frames.WINDOW}`);
      if (cb) process.nextTick(cb, err);
      else throw err;
      return;
    }
    this.queue.push([binary ? 'websocket-binary' : 'websocket', buf, cb]);
    this.bufferedAmount += buf.length;
    this.flush();
  }

  // flush sends the queued messages the window allows.
  flush() {
    const st = this.stream;
    while (this.queue.length > 0 && this.queue[0][1].length <= st.window && !st.done) {
      const [type, buf, cb] = this.queue.shift();
      this.bufferedAmount -= buf.length;
      st.window -= buf.length;
      st.send(type, buf);
      if (cb) process.nextTick(cb);
    }
    if (this.readyState === CLOSING && this.queue.length === 0) this.finish();
  }

  // close sends a close to the client with code (1000, or 3000..4999 for
  // the application's own) and reason (at most 123 bytes), after what is
  // queued, and ends the stream.
  close(code = 1000, reason = '') {
    if (this.readyState !== OPEN) return;
    if (!sendable(code)) throw new RangeError(`WebSocket close code ${code} may not be sent (RFC 6455 section 7.4)`);
    const r = Buffer.from(String(reason));
    if (r.length > 123) throw new RangeError(`WebSocket close reason of ${r.length} bytes, over 123`);
    this.readyState = CLOSING;
    this.closeCode = code;
    this.closeReason = r;
    this.flush();
  }

  // terminate ends the stream at once, dropping what is queued.
  terminate() {
    if (this.readyState === CLOSED) return;
    this.queue = [];
    this.bufferedAmount = 0;
    if (!this.stream.done) {
      this.stream.send('close');
      this.stream.over();
    }
    this.gone(1006, '');
  }

  finish() {
    const st = this.stream;
    this.closeSent = true;
    st.send('websocket-close', Buffer.concat([Buffer.from(String(this.closeCode)), this.closeReason.length ? Buffer.concat([Buffer.from(' '), this.closeReason]) : Buffer.alloc(0)]));
    st.send('end');
    st.over();
    this.gone(this.closeCode, this.closeReason.toString());
  }

  // receive: a message from the client.
  receive(data, isBinary) {
    if (this.readyState !== OPEN && this.readyState !== CLOSING) return;
    this.emit('message', Buffer.from(data), isBinary);
  }

  // clientClosed: the client sent a close. It is answered with a close
  // (1000) unless one was sent, and the stream ends.
  clientClosed({ code, reason }) {
    if (this.readyState === CLOSED) return;
    const st = this.stream;
    this.queue = [];
    this.bufferedAmount = 0;
    if (!this.closeSent && !st.done) {
      this.closeSent = true;
      st.send('websocket-close', Buffer.from('1000'));
      st.send('end');
    }
    st.over();
    this.gone(code, reason);
  }

  // gone marks the WebSocket closed and emits 'close' (code, reason
  // Buffer), once.
  gone(code, reason) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    for (const [, , cb] of this.queue) if (cb) process.nextTick(cb, new Error('WebSocket closed'));
    this.queue = [];
    this.bufferedAmount = 0;
    process.nextTick(() => this.emit('close', code, Buffer.from(String(reason))));
  }
}

// sendable: the codes an endpoint may put in a close frame (RFC 6455
// sections 7.4.1 and 7.4.2; 1004, 1005, 1006 and 1015 are reserved).
function sendable(code) {
  if (code >= 3000 && code <= 4999) return true;
  if (code < 1000 || code > 1014) return false;
  return code !== 1004 && code !== 1005 && code !== 1006;
}

Object.assign(WebSocket, { CONNECTING, OPEN, CLOSING, CLOSED });
Object.assign(WebSocket.prototype, { CONNECTING, OPEN, CLOSING, CLOSED });

module.exports = { WebSocket };
