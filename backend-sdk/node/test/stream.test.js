'use strict';
// The frames format on real sockets, the test playing the gateway: a PUSH
// (peer.js) that dials the worker's PULL, and a PULL bound at the inbound
// address that the worker's frames come back to.

const test = require('node:test');

// Every test is bounded: a hang fails it instead of stalling the run.
const BOUND = { timeout: 20000 };
const assert = require('node:assert');
const crypto = require('crypto');
const { StreamServer } = require('../lib/stream');
const frames = require('../lib/frames');
const { connect, listen, tmpURL, PROTO } = require('./peer');

const quiet = () => {};
const SID = '0123456789abcdeffedcba9876543210';

// gatewayOf starts a worker serving app (and onWebSocket), and returns the
// test's gateway end.
async function gatewayOf(t, app, opts = {}) {
  const workerURL = tmpURL('w');
  const inboundURL = tmpURL('in');
  let inbound;
  const gotInbound = new Promise((resolve) => { inbound = resolve; });
  const srvIn = await listen(inboundURL, PROTO.PULL, (p) => inbound(p));
  const srv = new StreamServer(app, { log: quiet, ...opts });
  await srv.listen(workerURL);
  const push = await connect(workerURL, PROTO.PUSH);
  t.after(() => {
    srv.close();
    push.close();
    srvIn.close();
  });
  let pull = null;
  const gw = {
    srv,
    push,
    inboundURL,
    send(stream, type, body = '') {
      push.send(frames.build(SID, type, stream, Buffer.isBuffer(body) ? body : Buffer.from(body)));
    },
    request(stream, head) {
      this.send(stream, 'request', `${head}X-Nanogate-Inbound: ${inboundURL}\r\n\r\n`);
    },
    async next(ms) {
      if (!pull) {
        pull = await Promise.race([gotInbound, new Promise((resolve, reject) => {
          setTimeout(() => reject(new Error('the worker never connected to the inbound address')), 5000).unref();
        })]);
      }
      return frames.parse(await pull.next(ms));
    },
    // until collects frames up to and including one of type.
    async until(type) {
      const got = [];
      for (;;) {
        const f = await this.next();
        got.push(f);
        if (f.type === type) return got;
      }
    },
  };
  return gw;
}

const head = (method, path, extra = '') => `${method} ${path} HTTP/1.1\r\nHost: h\r\n${extra}X-Request-Id: r-${path}\r\nX-Nanogate-Session: ${SID}\r\n`;

test('a whole response: one headers frame with its Content-Length, then end', BOUND, async (t) => {
  const gw = await gatewayOf(t, (req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    res.end(`hi ${req.nanogate.sessionId} ${req.nanogate.stream}`);
  });
  gw.request(1, head('GET', '/a'));
  const [h, e] = await gw.until('end');
  assert.strictEqual(h.type, 'headers');
  assert.strictEqual(h.stream, 1);
  const text = h.body.toString('latin1');
  assert.match(text, /^HTTP\/1.1 200 OK\r\n/);
  assert.match(text, new RegExp(`Content-Length: ${`hi ${SID} 1`.length}\\r\\n\\r\\nhi ${SID} 1$`));
  assert.doesNotMatch(text, /Transfer-Encoding/i);
  assert.strictEqual(e.type, 'end');
});

test('writes reach the gateway as they are made (server-sent events)', BOUND, async (t) => {
  let tick;
  const gw = await gatewayOf(t, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    let i = 0;
    tick = () => {
      res.write(`data: ${i}\n\n`);
      if (++i === 3) res.end();
    };
    tick();
  });
  gw.request(1, head('GET', '/sse'));
  const h = await gw.next();
  assert.strictEqual(h.type, 'headers');
  assert.doesNotMatch(h.body.toString('latin1'), /Content-Length/i);
  let body = h.body.subarray(h.body.indexOf('\r\n\r\n') + 4).toString();
  if (body === '') body = (await gw.next()).body.toString();
  assert.strictEqual(body, 'data: 0\n\n');
  // The next event is written only now: it cannot have been waiting.
  tick();
  const c = await gw.next();
  assert.deepStrictEqual([c.type, c.body.toString()], ['chunk', 'data: 1\n\n']);
  tick();
  const rest = await gw.until('end');
  assert.deepStrictEqual(rest.map((f) => [f.type, f.body.toString()]), [['chunk', 'data: 2\n\n'], ['end', '']]);
});

test('the request body streams in, Content-Length and chunked', BOUND, async (t) => {
  const gw = await gatewayOf(t, (req, res) => {
    const hash = crypto.createHash('sha256');
    let n = 0;
    req.on('data', (c) => { hash.update(c); n += c.length; });
    req.on('end', () => res.end(`${n} ${hash.digest('hex')}`));
  });
  const body = crypto.randomBytes(300000);
  const want = `${body.length} ${crypto.createHash('sha256').update(body).digest('hex')}`;
  for (const [stream, framing] of [[1, `Content-Length: ${body.length}\r\n`], [2, 'Transfer-Encoding: chunked\r\n']]) {
    gw.request(stream, head('POST', '/up', framing));
    for (let i = 0; i < body.length; i += 65536) gw.send(stream, 'body', body.subarray(i, i + 65536));
    gw.send(stream, 'body', '');
    const [h] = await gw.until('end');
    assert.ok(h.body.toString().endsWith(want), h.body.toString());
  }
});

test('flow control: 1 MiB, then only what credit grants; write() returns false, drain follows', BOUND, async (t) => {
  let drains = 0;
  const total = 3 << 20;
  const gw = await gatewayOf(t, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    let sent = 0;
    const piece = Buffer.alloc(64 << 10, 7);
    const more = () => {
      while (sent < total) {
        sent += piece.length;
        if (!res.write(piece)) {
          res.once('drain', () => { drains++; more(); });
          return;
        }
      }
      res.end();
    };
    more();
  });
  gw.request(1, head('GET', '/big'));
  let got = 0;
  const h = await gw.next();
  got += h.body.length - (h.body.indexOf('\r\n\r\n') + 4);
  // Without credit, no more than the window arrives.
  for (;;) {
    let f;
    try {
      f = await gw.next(300);
    } catch {
      break;
    }
    got += f.body.length;
  }
  assert.strictEqual(got, frames.WINDOW);
  gw.send(1, 'credit', String(total));
  while (got < total) {
    const f = await gw.next();
    assert.strictEqual(f.type, 'chunk');
    got += f.body.length;
  }
  assert.strictEqual((await gw.next()).type, 'end');
  assert.ok(drains > 0, 'the listener never waited');
});

test('the gateway ends the stream: req and res close, writes go nowhere', BOUND, async (t) => {
  let closed;
  const gone = new Promise((resolve) => { closed = resolve; });
  const gw = await gatewayOf(t, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write('data: first\n\n');
    res.on('close', () => closed(res.writableFinished));
  });
  gw.request(1, head('GET', '/sse'));
  await gw.next();
  gw.send(1, 'end');
  assert.strictEqual(await gone, false);
  assert.strictEqual(gw.srv.streams.size, 0);
});

test('a listener that throws: 500 before the head, close after it', BOUND, async (t) => {
  const gw = await gatewayOf(t, async (req, res) => {
    if (req.url === '/late') {
      res.write('partial');
      await new Promise((resolve) => setTimeout(resolve, 50)); // the head has gone
    }
    throw new Error('boom');
  });
  gw.request(1, head('GET', '/early'));
  const [h, e] = await gw.until('end');
  assert.match(h.body.toString(), /^HTTP\/1.1 500 [\s\S]*r-\/early/);
  assert.strictEqual(e.type, 'end');
  gw.request(2, head('GET', '/late'));
  const got = await gw.until('close');
  assert.strictEqual(got[got.length - 1].type, 'close');
});

test('WebSocket: messages both ways, the client closes', BOUND, async (t) => {
  let closedWith;
  const closed = new Promise((resolve) => { closedWith = resolve; });
  const gw = await gatewayOf(t, () => { throw new Error('not for HTTP'); }, {
    onWebSocket(ws, req) {
      ws.send(`session ${ws.sessionId} ${req.url}`);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('close', (code, reason) => closedWith([code, reason.toString()]));
    },
  });
  gw.request(4, head('GET', '/ws', 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n'));
  let f = await gw.next();
  assert.deepStrictEqual([f.type, f.stream, f.body.toString()], ['websocket', 4, `session ${SID} /ws`]);
  gw.send(4, 'websocket', 'héllo');
  f = await gw.next();
  assert.deepStrictEqual([f.type, f.body.toString()], ['websocket', 'héllo']);
  gw.send(4, 'websocket-binary', Buffer.from([0, 255]));
  f = await gw.next();
  assert.deepStrictEqual([f.type, [...f.body]], ['websocket-binary', [0, 255]]);
  gw.send(4, 'websocket-close', '1001 going');
  const rest = await gw.until('end');
  assert.deepStrictEqual(rest.map((x) => x.type), ['websocket-close', 'end']);
  assert.deepStrictEqual(await closed, [1001, 'going']);
});

test('WebSocket: the worker closes with a code and reason', BOUND, async (t) => {
  const gw = await gatewayOf(t, () => {}, {
    onWebSocket(ws) {
      ws.on('message', () => ws.close(4000, 'kicked'));
    },
  });
  gw.request(1, head('GET', '/ws', 'Upgrade: websocket\r\n'));
  gw.send(1, 'websocket', 'x');
  const got = await gw.until('end');
  assert.deepStrictEqual(got.map((f) => [f.type, f.body.toString()]), [['websocket-close', '4000 kicked'], ['end', '']]);
});

test('WebSocket without a handler: closed 1011', BOUND, async (t) => {
  const gw = await gatewayOf(t, () => {});
  gw.request(1, head('GET', '/ws', 'Upgrade: websocket\r\n'));
  const got = await gw.until('end');
  assert.match(got[0].body.toString(), /^1011/);
});

test('shutdown: a new request goes back to the gateway (retry), running ones finish', BOUND, async (t) => {
  let finish;
  const gw = await gatewayOf(t, (req, res) => {
    res.writeHead(200);
    res.write('started');
    finish = () => res.end();
  });
  gw.request(1, head('GET', '/long'));
  await gw.next();
  const done = gw.srv.shutdown();
  gw.request(2, head('GET', '/new'));
  const r = await gw.next();
  assert.deepStrictEqual([r.type, r.stream], ['retry', 2]);
  finish();
  assert.strictEqual((await gw.until('end')).pop().stream, 1);
  await done;
});

test('over maxStreams: 503 at once', BOUND, async (t) => {
  const gw = await gatewayOf(t, (req, res) => res.write('x'), { maxStreams: 1 });
  gw.request(1, head('GET', '/a'));
  await gw.next();
  gw.request(2, head('GET', '/b'));
  const [h] = await gw.until('end');
  assert.strictEqual(h.stream, 2);
  assert.match(h.body.toString(), /^HTTP\/1.1 503 /);
});

test('a listener that does not read its body holds the gateway connection, then is cut past stallLimit', BOUND, async (t) => {
  let readNow;
  const gw = await gatewayOf(t, (req, res) => {
    if (req.url === '/slow') {
      readNow = () => req.resume();
      req.on('end', () => res.end('read all'));
      return;
    }
    res.end(`fast ${req.url}`);
  }, { maxQueuedBody: 1000, stallLimit: 60000 });
  gw.request(1, head('POST', '/slow', 'Content-Length: 3000\r\n'));
  for (let i = 0; i < 3; i++) gw.send(1, 'body', Buffer.alloc(1000, 1));
  gw.send(1, 'body', '');
  gw.request(2, head('GET', '/fast'));
  // The second request waits behind the unread body on the connection.
  await assert.rejects(gw.next(300));
  readNow();
  const got = [];
  while (got.filter((f) => f.type === 'end').length < 2) got.push(await gw.next());
  const bodies = got.filter((f) => f.type === 'headers').map((f) => `${f.stream} ${f.body.toString().split('\r\n\r\n')[1]}`).sort();
  assert.deepStrictEqual(bodies, ['1 read all', '2 fast /fast']);
});

test('stallLimit: a stream that keeps the connection paused is cut, the others go on', BOUND, async (t) => {
  let stuckClosed;
  const closed = new Promise((resolve) => { stuckClosed = resolve; });
  const gw = await gatewayOf(t, (req, res) => {
    if (req.url === '/stuck') { // never reads, never answers
      res.on('close', stuckClosed);
      return;
    }
    res.end(`fast ${req.url}`);
  }, { maxQueuedBody: 1000, stallLimit: 200 });
  gw.request(1, head('POST', '/stuck', 'Content-Length: 5000\r\n'));
  for (let i = 0; i < 5; i++) gw.send(1, 'body', Buffer.alloc(1000, 1));
  gw.request(2, head('GET', '/fast'));
  const first = await gw.next();
  assert.deepStrictEqual([first.type, first.stream], ['close', 1]);
  const [h] = await gw.until('end');
  assert.strictEqual(h.stream, 2);
  assert.strictEqual(gw.srv.streams.size, 0);
  await closed; // the listener learns of it
});

test('the gateway connection is lost: its streams end, as if the client had gone', BOUND, async (t) => {
  let closed;
  const gone = new Promise((resolve) => { closed = resolve; });
  const gw = await gatewayOf(t, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write('data: first\n\n');
    res.on('close', () => closed(res.writableFinished));
  });
  gw.request(1, head('GET', '/sse'));
  await gw.next();
  gw.push.close();
  assert.strictEqual(await gone, false);
  assert.strictEqual(gw.srv.streams.size, 0);
});

test('a body that comes whole in the request frame', BOUND, async (t) => {
  const gw = await gatewayOf(t, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => res.end(`got ${Buffer.concat(chunks)}`));
  });
  gw.send(1, 'request', `${head('POST', '/early', 'Content-Length: 5\r\n')}X-Nanogate-Inbound: ${gw.inboundURL}\r\n\r\nhello`);
  const [h] = await gw.until('end');
  assert.match(h.body.toString(), /\r\n\r\ngot hello$/);
});

test('a buffer the listener reuses once its write has called back is sent as it was written', BOUND, async (t) => {
  const gw = await gatewayOf(t, (req, res) => {
    const b = Buffer.from('aaaa');
    res.write(b, () => {
      b.fill(0x62);
      res.end(b);
    });
  });
  gw.request(1, head('GET', '/reuse'));
  const got = await gw.until('end');
  const body = Buffer.concat(got.map((f) => (f.type === 'headers' ? f.body.subarray(f.body.indexOf('\r\n\r\n') + 4) : f.body)));
  assert.strictEqual(body.toString(), 'aaaabbbb');
});
