'use strict';
// Stream is one request on a frames route: its request (the head, then
// body frames into req), its response (what Node's ServerResponse writes,
// cut into headers, body or chunk frames as the window allows) or its
// WebSocket, and the end. StreamServer (lib/stream.js) routes the
// gateway's frames to it.

const http1 = require('./http1');
const frames = require('./frames');
const adapter = require('./adapter');
const { WebSocket } = require('./websocket');

const MAX_FRAME_BODY = 256 << 10; // the gateway's largest body frame, and ours
const HOLD_BYTES = 64 << 10; // unsent body past which writes wait (res.write returns false)

// Stream is one request of a session: its request (body frames in), its
// response or WebSocket (frames out), and its window.
class Stream {
  constructor(server, key, sid, num, out, head, early) {
    this.server = server;
    this.key = key;
    this.sid = sid;
    this.num = num;
    this.out = out;
    this.head = head;
    this.early = early;
    this.window = frames.WINDOW;
    this.done = false; // the stream is over: ended by the gateway, or finished here
    this.req = null;
    this.res = null;
    this.sock = null;
    this.ws = null;
    this.conn = null; // the gateway connection the request came on
    this.paused = null; // the gateway connection this stream paused
    this.stall = null;
    // Response state.
    this.pending = []; // body pieces not sent yet
    this.pendingBytes = 0;
    this.held = []; // write callbacks held back while too much is pending
    this.headBuf = null; // the response head while it arrives, then whole
    this.headDone = false; // headBuf holds the whole head
    this.headSent = false;
    this.bodyType = 'chunk';
    this.scheduled = false;
    this.finished = false; // res 'finish': the listener has written everything
    this.requestId = http1.lastHeaderValue(head.rawHeaders, 'x-request-id');
  }

  start() {
    const { head } = this;
    const raw = head.rawHeaders;
    this.sock = new adapter.FakeSocket(http1.clientIP(raw), this);
    const req = adapter.makeRequest(this.sock, head);
    this.req = req;
    req.nanogate = { sessionId: this.sid, stream: this.num, requestId: this.requestId };
    const cl = http1.headerValue(raw, 'content-length');
    const chunked = http1.headerValue(raw, 'transfer-encoding') !== undefined;
    this.bodyLength = cl !== undefined && !chunked ? Number(cl) : -1;
    this.bodyLeft = this.bodyLength;
    this.wantBody = chunked || this.bodyLength > 0;
    const upgrade = http1.headerValue(raw, 'upgrade');
    if (upgrade && /(^|[\s,])websocket($|[\s,])/i.test(upgrade)) {
      req.upgrade = true;
      this.startWebSocket();
      return;
    }
    const s = this;
    req._read = function read(n) {
      Object.getPrototypeOf(req)._read.call(this, n);
      s.resumeGateway();
    };
    if (this.early.length > 0) this.body(null, this.early);
    if (!this.wantBody && !req.complete) adapter.endRequest(req);
    const res = adapter.makeResponse(req, this.sock);
    rawBody(res);
    this.res = res;
    res.once('finish', () => {
      this.finished = true;
      this.schedule();
    });
    adapter.runListener(this.server.app, req, res, (err) => this.threw(err));
  }

  startWebSocket() {
    const ws = new WebSocket(this);
    this.ws = ws;
    if (!this.wantBody && !this.req.complete) adapter.endRequest(this.req);
    const srv = this.server;
    if (srv.listenerCount('websocket') === 0) {
      srv.log('warn', 'WebSocket request but no onWebSocket handler or websocket listener: closing it 1011', { request_id: this.requestId, url: this.req.url });
      ws.close(1011, 'no handler');
      return;
    }
    try {
      srv.emit('websocket', ws, this.req);
    } catch (err) {
      srv.log('error', 'websocket handler threw', { request_id: this.requestId, url: this.req.url, err });
      if (!ws.closeSent) ws.close(1011, '');
    }
  }

  // body takes a piece of the request body (an empty one ends it).
  body(c, data) {
    const req = this.req;
    if (!this.wantBody || req.complete || req.destroyed) return;
    if (data.length === 0) {
      adapter.endRequest(req);
      return;
    }
    // The piece is a view of the connection's read buffer: a copy lets
    // that buffer go while the listener holds the piece.
    req.push(Buffer.from(data));
    this.bodyLeft -= data.length;
    // A body of announced length ends with its last byte, also when it came
    // whole in the request frame (the empty body frame, if one follows, is
    // ignored then).
    if (this.bodyLength >= 0 && this.bodyLeft <= 0) adapter.endRequest(req);
    if (c && req.readableLength > this.server.opts.maxQueuedBody && !this.paused) {
      // The transport's back-pressure (docs/PROTOCOL.md, flow control):
      // the gateway's connection is not read until the listener reads.
      this.paused = c;
      c.pause();
      this.stall = setTimeout(() => this.stalled(), this.server.opts.stallLimit);
    }
  }

  resumeGateway() {
    const c = this.paused;
    if (!c) return;
    this.paused = null;
    clearTimeout(this.stall);
    c.resume();
  }

  stalled() {
    this.server.log('warn', 'stream cut: its listener stopped reading its request body', { request_id: this.requestId });
    this.resumeGateway();
    this.send('close');
    this.over();
    // As when the client goes away: req and res close.
    if (!this.req.complete) this.req.destroy();
    this.sock.destroy();
  }

  credit(n) {
    this.window += n;
    if (this.ws) this.ws.flush();
    else this.schedule();
  }

  // gatewayEnded: the client went away, or the stream was cut or timed out.
  gatewayEnded() {
    if (this.done) return;
    this.over();
    if (this.ws) {
      this.ws.gone(1006, '');
      return;
    }
    const req = this.req;
    if (req && !req.complete) req.destroy();
    this.sock?.destroy();
  }

  // over forgets the stream: nothing more is sent on it.
  over() {
    if (this.done) return;
    this.done = true;
    this.resumeGateway();
    for (const cb of this.held.splice(0)) cb();
    this.server.forget(this);
  }

  send(type, body) {
    if (this.done) return;
    const h = frames.header(this.sid, type, this.num);
    this.out.send(body && body.length ? [h, body] : [h]);
  }

  threw(err) {
    const srv = this.server;
    srv.log('error', 'request listener threw', { request_id: this.requestId, method: this.req.method, url: this.req.url, err });
    if (this.done) return;
    if (this.headSent) {
      this.send('close'); // a cut response: the client must not take it for whole
    } else {
      this.send('headers', http1.errorReply(500, this.requestId));
      this.send('end');
    }
    this.over();
    this.sock.destroy();
    adapter.releaseResponse(this.req, this.res, this.sock);
  }

  // The sink of the response's socket (adapter.FakeSocket).
  write(chunk, cb) {
    this.take(chunk);
    this.settleWrite(cb);
  }

  writev(chunks, cb) {
    for (const c of chunks) this.take(c);
    this.settleWrite(cb);
  }

  take(chunk) {
    if (this.done || chunk.length === 0) return;
    if (typeof chunk === 'string') chunk = Buffer.from(chunk, 'latin1');
    if (!this.headDone) {
      // The head is Node's, written whole before any body.
      this.headBuf = this.headBuf ? Buffer.concat([this.headBuf, chunk]) : chunk;
      const end = http1.headEnd(this.headBuf);
      if (end < 0) return;
      chunk = this.headBuf.subarray(end);
      this.headBuf = this.headBuf.subarray(0, end);
      this.headDone = true; // what comes now is body
      if (chunk.length === 0) {
        this.schedule();
        return;
      }
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.schedule();
  }

  settleWrite(cb) {
    if (this.done || this.pendingBytes <= HOLD_BYTES) cb();
    else this.held.push(cb);
  }

  schedule() {
    if (this.scheduled || this.done) return;
    this.scheduled = true;
    process.nextTick(flushStream, this);
  }

  // flush sends what the window allows: the head (with a Content-Length
  // when the response is complete already), the body, and the end.
  flush() {
    this.scheduled = false;
    if (this.done || this.ws) return;
    const res = this.res;
    const complete = this.finished || (res.writableEnded && this.sock.writableLength === 0 && this.held.length === 0);
    if (!this.headSent) {
      if (!this.headDone) return; // nothing written yet
      let head = this.headBuf;
      const meta = headMeta(head);
      this.bodyType = meta.contentLength >= 0 ? 'body' : 'chunk';
      if (complete && meta.contentLength < 0 && !meta.chunked && bodyAllowed(res.statusCode) && this.req.method !== 'HEAD') {
        head = withContentLength(head, this.pendingBytes);
        this.bodyType = 'body';
      }
      // The first body piece rides in the headers frame when the window allows.
      let first = null;
      if (this.pending.length > 0 && this.pending[0].length <= Math.min(this.window, MAX_FRAME_BODY) && this.pending[0].length + head.length <= MAX_FRAME_BODY) {
        first = this.pending.shift();
        this.pendingBytes -= first.length;
        this.window -= first.length;
      }
      this.send('headers', first ? Buffer.concat([head, first]) : head);
      this.headSent = true;
      this.headBuf = null;
    }
    while (this.pending.length > 0 && this.window > 0) {
      let piece = this.pending[0];
      const n = Math.min(piece.length, this.window, MAX_FRAME_BODY);
      if (n < piece.length) {
        this.pending[0] = piece.subarray(n);
        piece = piece.subarray(0, n);
      } else {
        this.pending.shift();
      }
      this.pendingBytes -= n;
      this.window -= n;
      this.send(this.bodyType, piece);
    }
    if (this.pendingBytes <= HOLD_BYTES && this.held.length > 0) {
      for (const cb of this.held.splice(0)) cb();
    }
    if (this.finished && this.pending.length === 0) {
      this.send('end');
      this.over();
      adapter.releaseResponse(this.req, res, this.sock);
    }
  }
}

function flushStream(st) {
  st.flush();
}

function bodyAllowed(status) {
  return !(status >= 100 && status < 200) && status !== 204 && status !== 304;
}

// headMeta reads the framing fields of a response head Node wrote.
function headMeta(head) {
  const s = head.toString('latin1');
  const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(s);
  return { contentLength: cl ? Number(cl[1]) : -1, chunked: /\r\ntransfer-encoding:/i.test(s) };
}

// rawBody keeps Node from chunk-encoding the body when the listener sets
// Transfer-Encoding: chunked itself: a frame carries the body raw, and the
// gateway frames it for the client.
function rawBody(res) {
  const store = res._storeHeader;
  res._storeHeader = function storeHeader(firstLine, headers) {
    store.call(this, firstLine, headers);
    if (this.chunkedEncoding) {
      this.chunkedEncoding = false;
      this._header = this._header.replace(/\r\ntransfer-encoding:[^\r]*(?=\r\n)/i, '');
    }
  };
}

function withContentLength(head, n) {
  return Buffer.concat([head.subarray(0, head.length - 2), Buffer.from(`Content-Length: ${n}\r\n\r\n`, 'latin1')]);
}

module.exports = { Stream };
