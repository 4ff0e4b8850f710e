'use strict';
// The cost of turning one request message into a reply, in process, with
// a hello listener: the SDK's adapter (the request parsed here, Node's
// IncomingMessage and ServerResponse on a socket that collects writes)
// against the other way to reuse Node's code: a real http.Server fed the
// message bytes on a fake connection, its own parser (llhttp) and
// response writer doing the rest.
//
//   node backend-sdk/node/bench/adapter.js [N]

const http = require('http');
const { Duplex } = require('stream');
const { Server, Collector } = require('../lib/server');

const N = Number(process.argv[2]) || 100000;
const msg = Buffer.from('GET /api/hello?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: wrk\r\nAccept: */*\r\n'
  + 'X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Request-Id: 5f0c6a1e9b2d4c8f8a7e6d5c4b3a2910\r\n'
  + 'X-Nanogate-Session: 0123456789abcdeffedcba9876543210\r\n\r\n');

function hello(req, res) {
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end('hello world\n');
}

// The SDK's path: Server.handle, as the REP connection calls it.
function sdk(done) {
  const s = new Server(hello, { log: false });
  let left = N;
  const next = () => {
    if (left-- === 0) return done();
    s.handle(msg, (reply) => {
      if (!reply.length) throw new Error('no reply');
      setImmediate(next);
    });
  };
  next();
}

// The other way: Node's own server on one fake connection per request.
class Conn extends Duplex {
  constructor(onReply) {
    super();
    this.out = new Collector();
    this.onReply = onReply;
    this.remoteAddress = '127.0.0.1';
  }

  _read() {}

  _write(chunk, enc, cb) {
    this.out.chunks.push(chunk);
    cb();
  }

  _final(cb) {
    this.onReply(this.out.chunks);
    cb();
  }

  setTimeout() { return this; }
  setNoDelay() { return this; }
  setKeepAlive() { return this; }
  destroySoon() { this.end(); }
}

function nodeServer(done) {
  const srv = http.createServer(hello);
  let left = N;
  const next = () => {
    if (left-- === 0) return done();
    const c = new Conn(() => setImmediate(next));
    srv.emit('connection', c);
    c.push(Buffer.concat([msg.subarray(0, msg.length - 2), Buffer.from('Connection: close\r\n\r\n')]));
  };
  next();
}

function time(name, fn) {
  return new Promise((resolve) => {
    const cpu = process.cpuUsage();
    const t = process.hrtime.bigint();
    fn(() => {
      const wall = Number(process.hrtime.bigint() - t) / 1e3 / N;
      const c = process.cpuUsage(cpu);
      console.log(`${name.padEnd(40)} ${wall.toFixed(2)} us/request wall, ${((c.user + c.system) / N).toFixed(2)} us CPU`);
      resolve();
    });
  });
}

(async () => {
  for (let round = 0; round < 2; round++) {
    await time('SDK adapter (parse here, Node objects)', sdk);
    await time('http.Server on a fake connection', nodeServer);
  }
})();
