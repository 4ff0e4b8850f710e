'use strict';
// The http format on real sockets: a REQ peer written in the test
// (peer.js) pipelines requests to a Server over ipc:// and tcp://, in bind
// and dial modes, and checks every reply's id, order independence, the
// listener's failures, back-pressure and the drain.

const test = require('node:test');

// Every test is bounded: a hang fails it instead of stalling the run.
const BOUND = { timeout: 20000 };
const assert = require('node:assert');
const { Server } = require('../lib/server');
const { serve } = require('..');
const { connect, listen, tmpURL, freeTCP, PROTO } = require('./peer');

const quiet = () => {};

function request(id, msg) {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(id >>> 0);
  return Buffer.concat([h, Buffer.from(msg, 'latin1')]);
}

function split(reply) {
  return { id: reply.readUInt32BE(0), text: reply.subarray(4).toString('latin1') };
}

function get(path, extra = '') {
  return `GET ${path} HTTP/1.1\r\nHost: h\r\n${extra}X-Forwarded-For: 192.0.2.7\r\nX-Request-Id: rid-${path.slice(1)}\r\nX-Nanogate-Session: 0123456789abcdeffedcba9876543210\r\n\r\n`;
}

// serveREP starts a Server bound at url and a REQ peer connected to it,
// both closed when the test ends.
async function serveREP(t, url) {
  const srv = new Server(app, { log: quiet });
  await srv.listen(url);
  t.after(() => srv.close());
  const req = await connect(url, PROTO.REQ);
  t.after(() => req.close());
  return { srv, req };
}

function app(req, res) {
  if (req.url.startsWith('/wait/')) {
    // Answers in reverse order of arrival: later requests wait less.
    const ms = Number(req.url.slice(6));
    setTimeout(() => res.end(`waited ${ms}`), ms);
    return;
  }
  if (req.url === '/throw') throw new Error('thrown on purpose');
  if (req.url === '/reject') return Promise.reject(new Error('rejected on purpose'));
  if (req.url === '/echo') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => res.end(Buffer.concat(chunks)));
    return undefined;
  }
  if (req.url === '/post') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => res.end(`got ${Buffer.concat(chunks).length}`));
    return undefined;
  }
  res.setHeader('Content-Type', 'text/plain');
  res.end(`${req.method} ${req.url} ${req.socket.remoteAddress} ${req.nanogate.sessionId} ${req.nanogate.requestId}`);
  return undefined;
}

for (const transport of ['ipc', 'tcp']) {
  test(`bind over ${transport}: pipelined requests, replies in any order with their ids`, BOUND, async (t) => {
    const url = transport === 'ipc' ? tmpURL('rep') : await freeTCP();
    const { req } = await serveREP(t, url);
    const waits = [300, 200, 100, 0];
    waits.forEach((ms, i) => req.send(request(0x80000001 + i, get(`/wait/${ms}`))));
    const got = [];
    for (let i = 0; i < waits.length; i++) got.push(split(await req.next()));
    // The quickest first: all in flight at once.
    assert.deepStrictEqual(got.map((r) => r.id), [0x80000004, 0x80000003, 0x80000002, 0x80000001]);
    for (const r of got) {
      const ms = waits[r.id - 0x80000001];
      assert.match(r.text, new RegExp(`^HTTP/1.1 200 OK\\r\\n[\\s\\S]*\\r\\n\\r\\nwaited ${ms}$`));
    }
    req.send(request(0x80000009, get('/x')));
    const r = split(await req.next());
    assert.strictEqual(r.id, 0x80000009);
    assert.match(r.text, /\r\n\r\nGET \/x 192\.0\.2\.7 0123456789abcdeffedcba9876543210 rid-x$/);
  });
}

test('a backtrace with a device hop comes back whole', BOUND, async (t) => {
  const url = tmpURL('rep');
  const { req } = await serveREP(t, url);
  req.send(Buffer.concat([Buffer.from([0, 0, 0, 7, 0x80, 0, 0, 2]), Buffer.from(get('/y'))]));
  const reply = await req.next();
  assert.deepStrictEqual([...reply.subarray(0, 8)], [0, 0, 0, 7, 0x80, 0, 0, 2]);
});

test('dial: the server connects to a REQ that listens, and redials it', BOUND, async (t) => {
  const url = tmpURL('req');
  const peers = [];
  let arrived;
  const srvREQ = await listen(url, PROTO.REQ, (p) => {
    peers.push(p);
    arrived?.();
  });
  t.after(() => srvREQ.close());
  const waitPeer = (n) => new Promise((resolve) => {
    const check = () => {
      if (peers.length >= n && peers[n - 1].peerHeader) resolve(peers[n - 1]);
      else arrived = () => setTimeout(check, 5);
    };
    check();
  });
  const srv = new Server(app, { log: quiet });
  await srv.dial(url);
  t.after(() => srv.close());
  const p1 = await waitPeer(1);
  p1.send(request(0x80000001, get('/a')));
  assert.match(split(await p1.next()).text, /GET \/a/);
  p1.close(); // the gateway restarts: the worker comes back
  const p2 = await waitPeer(2);
  p2.send(request(0x80000002, get('/b')));
  assert.match(split(await p2.next()).text, /GET \/b/);
});

test('a listener that throws or rejects: 500 naming the request id, logged with it', BOUND, async (t) => {
  const url = tmpURL('rep');
  const lines = [];
  const srv = new Server(app, { log: (level, msg, f) => lines.push(`${level} ${msg} ${f && f.request_id}`) });
  await srv.listen(url);
  t.after(() => srv.close());
  const req = await connect(url, PROTO.REQ);
  t.after(() => req.close());
  for (const [i, path] of ['/throw', '/reject'].entries()) {
    req.send(request(0x80000001 + i, get(path)));
    const r = split(await req.next());
    assert.match(r.text, /^HTTP\/1.1 500 Internal Server Error\r\n/);
    assert.match(r.text, new RegExp(`rid-${path.slice(1)}`));
    assert.ok(lines.some((l) => l === `error request listener threw rid-${path.slice(1)}`), lines.join('\n'));
  }
  // The worker goes on serving.
  req.send(request(0x80000005, get('/ok')));
  assert.match(split(await req.next()).text, /GET \/ok/);
});

test('a malformed request gets 400, a body is read whole', BOUND, async (t) => {
  const url = tmpURL('rep');
  const { req } = await serveREP(t, url);
  req.send(request(0x80000001, 'nonsense'));
  assert.match(split(await req.next()).text, /^HTTP\/1.1 400 /);
  const body = Buffer.alloc(3 << 20, 0);
  req.send(Buffer.concat([request(0x80000002, `POST /post HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
  assert.match(split(await req.next()).text, new RegExp(`got ${body.length}$`));
  // A reply past 64 KiB leaves in parts; small ones around it stay whole.
  const big = Buffer.alloc(200000);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  req.send(Buffer.concat([request(0x80000003, `POST /echo HTTP/1.1\r\nContent-Length: ${big.length}\r\n\r\n`), big]));
  req.send(request(0x80000004, get('/after')));
  const replies = [await req.next(), await req.next()];
  const echo = replies.find((r) => r.readUInt32BE(0) === 0x80000003);
  assert.deepStrictEqual(echo.subarray(echo.indexOf('\r\n\r\n') + 4), big);
  assert.match(split(replies.find((r) => r.readUInt32BE(0) === 0x80000004)).text, /GET \/after/);
});

test('maxInFlight: past it, the connection is not read until replies free room', BOUND, async (t) => {
  const url = tmpURL('rep');
  let running = 0;
  let most = 0;
  const srv = new Server((req, res) => {
    running++;
    most = Math.max(most, running);
    setTimeout(() => { running--; res.end('x'); }, 20);
  }, { log: quiet, maxInFlight: 4 });
  await srv.listen(url);
  t.after(() => srv.close());
  const req = await connect(url, PROTO.REQ);
  t.after(() => req.close());
  for (let i = 0; i < 40; i++) req.send(request(0x80000001 + i, get('/z')));
  const ids = new Set();
  for (let i = 0; i < 40; i++) ids.add(split(await req.next()).id);
  assert.strictEqual(ids.size, 40);
  assert.ok(most <= 4, `ran ${most} at once`);
});

test('shutdown: the drain notice, then what arrives is served, then the close', BOUND, async (t) => {
  const url = tmpURL('rep');
  const { srv, req } = await serveREP(t, url);
  req.send(request(0x80000001, get('/wait/300')));
  await new Promise((r) => setTimeout(r, 50)); // the request is in flight
  const done = srv.shutdown();
  const notice = await req.next();
  assert.deepStrictEqual(notice, Buffer.from('\x80\0\0\0nanogate:draining', 'latin1'));
  // A request the gateway sent before the notice reached it is served.
  req.send(request(0x80000002, get('/late')));
  const replies = [split(await req.next()), split(await req.next())];
  assert.deepStrictEqual(replies.map((r) => r.id).sort(), [0x80000001, 0x80000002]);
  await done;
  await req.closedSoon();
});

test('serve(): ready, and close()', BOUND, async () => {
  const url = tmpURL('serve');
  const srv = serve(app, url, { signals: false, log: quiet });
  await srv.ready;
  const req = await connect(url, PROTO.REQ);
  req.send(request(0x80000001, get('/s')));
  assert.match(split(await req.next()).text, /GET \/s/);
  srv.close();
  await req.closedSoon();
});

test('serve(): a URL that cannot be bound rejects ready and emits error', BOUND, async () => {
  const srv = serve(app, 'ipc:///nonexistent-dir/x.sock', { signals: false, log: quiet });
  const emitted = new Promise((resolve) => srv.on('error', resolve));
  await assert.rejects(srv.ready);
  assert.ok(await emitted);
});

test('SIGTERM: a worker process drains (notice, the request in flight answered) and exits 0', BOUND, async (t) => {
  const { spawn } = require('child_process');
  const path = require('path');
  const url = tmpURL('sig');
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'conformance.js'), '--bind', url], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => { if (String(d).includes('ready')) resolve(); });
    child.once('exit', (code) => reject(new Error(`exited ${code} before ready`)));
  });
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve([code, sig])));
  const req = await connect(url, PROTO.REQ);
  t.after(() => req.close());
  req.send(request(0x80000001, get('/sleep?ms=300')));
  await new Promise((r) => setTimeout(r, 100)); // in flight
  child.kill('SIGTERM');
  assert.deepStrictEqual(await req.next(), Buffer.from('\x80\0\0\0nanogate:draining', 'latin1'));
  const r = split(await req.next());
  assert.strictEqual(r.id, 0x80000001);
  assert.match(r.text, /\r\n\r\nslept\n$/);
  assert.deepStrictEqual(await exited, [0, null]);
});
