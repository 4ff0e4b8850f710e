'use strict';
// The http format: every golden request of session/testdata (the exact
// bytes the gateway sends) parsed into the request a listener sees, checked
// field by field and against what Node's own HTTP server makes of the same
// bytes; and replies written by Node's ServerResponse through the adapter,
// checked against the gateway's reply rules, which the golden replies of
// session/testdata/*.response also pass.

const test = require('node:test');

// Every test is bounded: a hang fails it instead of stalling the run.
const BOUND = { timeout: 20000 };
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const http = require('http');
const net = require('net');
const http1 = require('../lib/http1');
const adapter = require('../lib/adapter');
const { Collector } = require('../lib/server');

const TESTDATA = path.join(__dirname, '..', '..', '..', 'session', 'testdata');
const SID = '0123456789abcdeffedcba9876543210';

function golden(name) {
  return fs.readFileSync(path.join(TESTDATA, name));
}

// What each golden request must read as.
const WANT = {
  'get.request': {
    method: 'GET', url: '/api/hello?x=1&y=%20', version: '1.1', body: '',
    rawHeaders: ['Host', 'example.com', 'User-Agent', 'curl/8.0', 'Accept', '*/*', 'X-Forwarded-For', '127.0.0.1',
      'X-Forwarded-Proto', 'http', 'X-Request-Id', '5f0c6a1e9b2d4c8f8a7e6d5c4b3a2910', 'X-Nanogate-Session', SID],
    remote: '127.0.0.1', requestId: '5f0c6a1e9b2d4c8f8a7e6d5c4b3a2910',
  },
  'mod_nano.request': {
    method: 'GET', url: '/index.html', version: '1.0', body: '',
    rawHeaders: ['Host', 'h', 'X-Forwarded-For', '192.0.2.1'], remote: '192.0.2.1',
  },
  'post-binary.request': {
    method: 'POST', url: '/upload', version: '1.1', body: 'a\0b\r\n\0\xff',
    rawHeaders: ['Host', 'h', 'Content-Type', 'application/octet-stream', 'Content-Length', '7', 'X-Forwarded-For', '::1',
      'X-Forwarded-Proto', 'http', 'X-Request-Id', 'r-1', 'X-Nanogate-Session', SID],
    remote: '::1', requestId: 'r-1',
  },
  'post-dechunked.request': {
    method: 'POST', url: '/chunked', version: '1.1', body: 'hello world',
    rawHeaders: ['Host', 'h', 'X-Trace', '1', 'Content-Length', '11', 'X-Forwarded-For', '10.0.0.7',
      'X-Forwarded-Proto', 'http', 'X-Request-Id', 'r-2', 'X-Nanogate-Session', SID],
    remote: '10.0.0.7', requestId: 'r-2',
  },
  'post-empty.request': {
    method: 'POST', url: '/empty', version: '1.1', body: '',
    rawHeaders: ['Host', 'h', 'Content-Length', '0', 'X-Forwarded-For', '127.0.0.1',
      'X-Forwarded-Proto', 'http', 'X-Request-Id', 'r-3', 'X-Nanogate-Session', SID],
    remote: '127.0.0.1', requestId: 'r-3',
  },
  'spoofed-headers.request': {
    method: 'GET', url: '/', version: '1.1', body: '',
    rawHeaders: ['Host', 'h', 'Cookie', 'a=1', 'Cookie', 'b=2', 'X-Forwarded-For', '192.0.2.1, 192.0.2.2, 127.0.0.1',
      'X-Forwarded-Proto', 'http', 'X-Request-Id', 'r-4', 'X-Nanogate-Session', SID],
    remote: '127.0.0.1', requestId: 'r-4', headers: { cookie: 'a=1; b=2' },
  },
};

test('every golden request is covered', BOUND, () => {
  const files = fs.readdirSync(TESTDATA).filter((f) => f.endsWith('.request')).sort();
  assert.deepStrictEqual(files, Object.keys(WANT).sort());
});

// readRequest builds the listener's request from a message, as the
// server does, and reads its body.
function readRequest(msg) {
  const head = http1.parseRequest(msg);
  const sock = new adapter.FakeSocket(http1.clientIP(head.rawHeaders), new Collector());
  const req = adapter.makeRequest(sock, head);
  if (head.body.length) req.push(head.body);
  adapter.endRequest(req);
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => resolve({ req, body: Buffer.concat(chunks) }));
  });
}

for (const [name, want] of Object.entries(WANT)) {
  test(`parse ${name}`, BOUND, async () => {
    const { req, body } = await readRequest(golden(name));
    assert.ok(req instanceof http.IncomingMessage);
    assert.strictEqual(req.method, want.method);
    assert.strictEqual(req.url, want.url);
    assert.strictEqual(req.httpVersion, want.version);
    assert.deepStrictEqual(req.rawHeaders, want.rawHeaders);
    assert.strictEqual(body.toString('latin1'), want.body);
    assert.strictEqual(req.socket.remoteAddress, want.remote);
    assert.strictEqual(http1.lastHeaderValue(req.rawHeaders, 'x-request-id'), want.requestId);
    assert.strictEqual(req.complete, true);
    for (const [k, v] of Object.entries(want.headers || {})) assert.strictEqual(req.headers[k], v);
  });
}

// nodeParses sends msg to a real http.Server and returns what Node's own
// parser made of it.
function nodeParses(msg) {
  return new Promise((resolve, reject) => {
    const srv = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        res.end();
        srv.close();
        resolve({ method: req.method, url: req.url, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, headers: req.headers, body: Buffer.concat(chunks) });
      });
    });
    srv.listen(0, '127.0.0.1', () => {
      const c = net.connect(srv.address().port, '127.0.0.1', () => c.end(msg));
      c.on('error', reject);
      c.resume();
    });
  });
}

test("the requests are what Node's own server makes of the same bytes", BOUND, async () => {
  for (const name of Object.keys(WANT)) {
    const msg = golden(name);
    const theirs = await nodeParses(msg);
    const { req, body } = await readRequest(msg);
    const ours = { method: req.method, url: req.url, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, headers: req.headers, body };
    assert.deepStrictEqual(ours, theirs, name);
  }
});

test('bad request messages are refused with a reason', BOUND, () => {
  const bad = [
    'GET / HTTP/1.1\r\nHost: h\r\n', // no empty line
    'GET /\r\n\r\n',
    'GET  / HTTP/1.1\r\n\r\n',
    'GET / HTTP/1.1 x\r\n\r\n',
    'G(T / HTTP/1.1\r\n\r\n',
    'GET / HTTP/1.1\r\nBad Name: x\r\n\r\n',
    'GET / HTTP/1.1\r\nNoColon\r\n\r\n',
    'GET / HTTP/1.1\r\n: empty\r\n\r\n',
    'POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc', // short body
    'POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n',
  ];
  for (const m of bad) assert.throws(() => http1.parseRequest(Buffer.from(m, 'latin1')), http1.ParseError, JSON.stringify(m));
});

test('bare LF lines and surrounding whitespace in values', BOUND, () => {
  const r = http1.parseRequest(Buffer.from('GET /x HTTP/1.1\nA:  1 \t\nB:2\n\nbody'));
  assert.deepStrictEqual(r.rawHeaders, ['A', '1', 'B', '2']);
  assert.strictEqual(r.body.toString(), 'body');
});

test('clientIP: the last entry of the last X-Forwarded-For', BOUND, () => {
  assert.strictEqual(http1.clientIP(['X-Forwarded-For', '1.1.1.1, 2.2.2.2']), '2.2.2.2');
  assert.strictEqual(http1.clientIP(['x-forwarded-for', 'spoof', 'X-Forwarded-For', 'a, ::1']), '::1');
  assert.strictEqual(http1.clientIP(['Host', 'h']), undefined);
});

// parseReply reads a reply by the gateway's rules (docs/PROTOCOL.md, Reply):
// status line, token names, values without controls, framing. It throws
// what the gateway would answer 502 for.
function parseReply(buf, { head = false } = {}) {
  const end = http1.headEnd(buf);
  if (end < 0) throw new Error('no end of head');
  const lines = buf.toString('latin1', 0, end).split(/\r?\n/).slice(0, -2);
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const status = Number(m[1]);
  if (status < 200) throw new Error('interim reply');
  const headers = [];
  for (const l of lines.slice(1)) {
    const hm = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/.exec(l);
    if (!hm || /[\0-\x08\x0a-\x1f\x7f]/.test(hm[2])) throw new Error(`bad header line ${JSON.stringify(l)}`);
    headers.push([hm[1].toLowerCase(), hm[2]]);
  }
  let body = buf.subarray(end);
  const cls = headers.filter(([k]) => k === 'content-length').map(([, v]) => v);
  const te = headers.find(([k]) => k === 'transfer-encoding');
  if (te && cls.length) throw new Error('both Content-Length and Transfer-Encoding');
  if (te) throw new Error('chunked: the SDK sends bodies raw');
  if (cls.length) {
    if (new Set(cls).size > 1) throw new Error('conflicting Content-Length');
    const n = Number(cls[0]);
    if (!(head || status === 304) && n !== body.length) throw new Error(`Content-Length ${n}, body ${body.length}`);
  }
  if ((status === 204 || status === 304) && body.length) throw new Error('body on 204/304');
  if (head) body = body.subarray(0, 0);
  return { status, reason: m[2] || '', headers, body };
}

test('the golden replies pass the reply rules', BOUND, () => {
  const files = fs.readdirSync(TESTDATA).filter((f) => f.endsWith('.response'));
  assert.ok(files.length >= 2);
  for (const f of files) parseReply(golden(f));
  const r = parseReply(golden('created.response'));
  assert.deepStrictEqual(r.headers.filter(([k]) => k === 'set-cookie').map(([, v]) => v), ['a=1; Path=/', 'b=2; Path=/']);
});

// respond runs listener on a request built from msg and returns the reply
// bytes the server would send.
function respond(msg, listener) {
  const head = http1.parseRequest(Buffer.from(msg, 'latin1'));
  const sink = new Collector();
  const sock = new adapter.FakeSocket('127.0.0.1', sink);
  const req = adapter.makeRequest(sock, head);
  adapter.endRequest(req);
  const res = adapter.makeResponse(req, sock);
  return new Promise((resolve) => {
    res.on('finish', () => {
      adapter.releaseResponse(req, res, sock);
      resolve(sink.bytes());
    });
    listener(req, res);
  });
}

const GET = 'GET /x HTTP/1.1\r\nHost: h\r\n\r\n';

test('replies written by ServerResponse follow the reply rules', BOUND, async () => {
  let r = parseReply(await respond(GET, (req, res) => {
    res.statusCode = 201;
    res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2; Path=/']);
    res.setHeader('Content-Type', 'text/plain');
    res.end('made\n');
  }));
  assert.strictEqual(r.status, 201);
  assert.strictEqual(r.reason, 'Created');
  assert.deepStrictEqual(r.headers.filter(([k]) => k === 'set-cookie').map(([, v]) => v), ['a=1; Path=/', 'b=2; Path=/']);
  assert.strictEqual(r.body.toString(), 'made\n');
  assert.ok(!r.headers.some(([k]) => k === 'date'), 'no Date: the gateway writes its own');

  // write() then end(): the body is sent raw, not chunked.
  r = parseReply(await respond(GET, (req, res) => {
    res.writeHead(200, 'Fine', { 'X-A': '1' });
    res.write('ab');
    res.write(Buffer.from([0, 1]));
    res.end('cd');
  }));
  assert.strictEqual(r.reason, 'Fine');
  assert.deepStrictEqual(r.body, Buffer.from([0x61, 0x62, 0, 1, 0x63, 0x64]));

  r = parseReply(await respond(GET, (req, res) => {
    res.writeHead(204, { 'X-Status': '204' });
    res.end();
  }));
  assert.strictEqual(r.status, 204);

  // A transfer coding the listener asks for is still a framing the gateway reads.
  const raw = await respond(GET, (req, res) => {
    res.setHeader('Transfer-Encoding', 'chunked');
    res.end('xyz');
  });
  assert.match(raw.toString('latin1'), /\r\n\r\n3\r\nxyz\r\n0\r\n\r\n$/);
});

test('interim replies (100 Continue, 103) are not written: the gateway takes the first head as the reply', BOUND, async () => {
  const buf = await respond(GET, (req, res) => {
    res.writeContinue();
    res.writeEarlyHints({ link: '</a.css>; rel=preload' });
    res.end('ok');
  });
  const r = parseReply(buf);
  assert.strictEqual(r.status, 200);
  assert.strictEqual(r.body.toString(), 'ok');
});

test('a buffer the listener reuses once its write has called back is sent as it was written', BOUND, async () => {
  const r = parseReply(await respond(GET, (req, res) => {
    const b = Buffer.from('aaaa');
    res.write(b, () => {
      b.fill(0x62);
      res.end(b);
    });
  }));
  assert.strictEqual(r.body.toString(), 'aaaabbbb');
});

test('body strings in any encoding', BOUND, async () => {
  const r = parseReply(await respond(GET, (req, res) => {
    res.write('héllo ', 'utf8');
    res.write('68c3a9', 'hex');
    res.end(Buffer.from('!'));
  }));
  assert.strictEqual(r.body.toString('utf8'), 'héllo hé!');
});

test('HEAD: the head of a GET, no body', BOUND, async () => {
  const buf = await respond('HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n', (req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    res.setHeader('Content-Length', '6');
    res.end('hello\n');
  });
  const r = parseReply(buf, { head: true });
  assert.strictEqual(buf.length, http1.headEnd(buf));
  assert.deepStrictEqual(r.headers.find(([k]) => k === 'content-length'), ['content-length', '6']);
});

test('the SDK answers: 500 naming the request id, and errorReply framing', BOUND, () => {
  const r = parseReply(http1.errorReply(500, 'r-9'));
  assert.strictEqual(r.status, 500);
  assert.match(r.body.toString(), /r-9/);
  parseReply(http1.reply(503, 'busy\n', ['Retry-After', '1']));
});
