'use strict';
// Node's own http.IncomingMessage and http.ServerResponse, on a socket that
// is no socket: the request comes parsed from a nanogate message, and what
// the response writes (Node's own status line, headers and body) goes to a
// sink that turns it into a reply message or frames. Because they are the
// real classes, an app sees exactly what http.createServer would give it,
// and frameworks that swap the objects' prototypes for their own (Express
// sets req and res to inherit from app.request and app.response, which
// inherit from Node's) work unchanged.

const http = require('http');
const { Duplex } = require('stream');

// Node's private flag for "a write returned false", which its server clears
// before it emits 'drain' on the response (socketOnDrain in _http_server).
const kNeedDrain = Object.getOwnPropertySymbols(new http.OutgoingMessage())
  .find((s) => s.description === 'kNeedDrain');

// FakeSocket is what req.socket and res.socket are. Writes go to
// sink.write(chunk, cb) / sink.writev(chunks, cb); the sink may hold cb
// back to push back on the writer (frames flow control), and then
// res.write returns false and res emits 'drain' later, as on a real socket.
//
// A chunk reaches the sink as a latin1 string (Node's head, which the
// message writer copies as it frames it) or as a Buffer of the sink's own:
// a listener may reuse its buffer once the write's callback has run, and
// the sink calls back before the reply has left.
class FakeSocket extends Duplex {
  constructor(remoteAddress, sink) {
    super({ allowHalfOpen: true, decodeStrings: false });
    this.sink = sink;
    this.remoteAddress = remoteAddress;
    this.remotePort = 0;
    this.remoteFamily = remoteAddress && remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
    this.encrypted = false; // TLS ends at the gateway; X-Forwarded-Proto says what the client used
    this.on('drain', onSocketDrain);
  }

  _read() {}

  _write(chunk, encoding, cb) {
    this.sink.write(own(chunk, encoding), cb);
  }

  _writev(chunks, cb) {
    const list = new Array(chunks.length);
    for (let i = 0; i < chunks.length; i++) list[i] = own(chunks[i].chunk, chunks[i].encoding);
    this.sink.writev(list, cb);
  }

  _final(cb) {
    cb();
  }

  // What frameworks call on sockets; a message has no socket to tune.
  setTimeout(ms, cb) {
    if (cb) this.once('timeout', cb);
    return this;
  }

  setNoDelay() { return this; }
  setKeepAlive() { return this; }
  ref() { return this; }
  unref() { return this; }
  destroySoon() { this.destroy(); }

  address() {
    return { address: '', family: this.remoteFamily, port: 0 };
  }
}

// own returns chunk as a latin1 string or a Buffer that nobody else holds.
function own(chunk, encoding) {
  if (typeof chunk !== 'string') return Buffer.from(chunk); // a copy
  if (encoding === 'latin1' || encoding === 'binary' || encoding === 'ascii') return chunk;
  return Buffer.from(chunk, encoding);
}

function onSocketDrain() {
  const res = this._httpMessage;
  if (res && !res.finished && res[kNeedDrain]) {
    res[kNeedDrain] = false;
    res.emit('drain');
  }
}

// makeRequest builds the IncomingMessage of a parsed head (http1.parseHead)
// as Node's parser does (parserOnHeadersComplete): headers and
// headersDistinct are computed from rawHeaders by Node, on first use.
function makeRequest(sock, head) {
  const req = new http.IncomingMessage(sock);
  req.httpVersionMajor = head.versionMajor;
  req.httpVersionMinor = head.versionMinor;
  req.httpVersion = `${head.versionMajor}.${head.versionMinor}`;
  req.url = head.url;
  req.method = head.method;
  req._addHeaderLines(head.rawHeaders, head.rawHeaders.length);
  return req;
}

// endRequest marks the body complete, as Node's parser does at the end of
// a message.
function endRequest(req) {
  req.complete = true;
  req.push(null);
}

// makeResponse builds the ServerResponse of req and gives it the socket,
// as Node's server does (parserOnIncoming), less what belongs to a client
// connection: no keep-alive timers, no 100 Continue (the gateway answers
// the client's Expect; a 1xx in a reply is refused), no Date (the gateway
// writes its own), and no chunked encoding: the gateway frames the body
// itself, so it goes raw (Node then says Connection: close, which the
// gateway drops with the other hop-by-hop fields).
function makeResponse(req, sock) {
  const res = new http.ServerResponse(req);
  res.sendDate = false;
  res.useChunkedEncodingByDefault = false;
  // Interim replies would reach the gateway as the reply: dropped.
  res.writeContinue = noInterim;
  res.writeProcessing = noInterim;
  res.writeEarlyHints = noInterim;
  res.assignSocket(sock);
  return res;
}

function noInterim(...args) {
  const cb = args[args.length - 1];
  if (typeof cb === 'function') process.nextTick(cb);
}

// releaseResponse does what Node's server does when a response has
// finished (resOnFinish): an unread body is dumped, the socket detached,
// and 'close' emitted on the next tick.
function releaseResponse(req, res, sock) {
  if (!req._consuming && !req._readableState.resumeScheduled) req._dump();
  if (sock._httpMessage === res) res.detachSocket(sock);
  process.nextTick(emitClose, res);
}

function emitClose(res) {
  if (!res._closed) {
    res.destroyed = true;
    res._closed = true;
    res.emit('close');
  }
}

// runListener calls app(req, res) and reports what it threw, or the
// rejection of the promise it returned (an async listener), to onError.
function runListener(app, req, res, onError) {
  let r;
  try {
    r = app(req, res);
  } catch (err) {
    onError(err);
    return;
  }
  if (r && typeof r.then === 'function') r.then(null, onError);
}

module.exports = { FakeSocket, makeRequest, endRequest, makeResponse, releaseResponse, emitClose, runListener };
