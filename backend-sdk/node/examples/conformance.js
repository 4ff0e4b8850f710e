'use strict';
// The conformance worker (docs: the SDK conformance suite in
// cmd/nanogate/conformance_test.go): a plain request listener, format http.
//
//   node examples/conformance.js --bind ipc:///tmp/conf.sock

const { serve } = require('..');

function text(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}

function app(req, res) {
  const u = new URL(req.url, 'http://x');
  const path = u.pathname;
  if (path === '/hello' && (req.method === 'GET' || req.method === 'HEAD')) {
    return text(res, 200, 'hello\n');
  }
  if (path === '/echo' && req.method === 'POST') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, {
        'Content-Type': req.headers['content-type'] || 'application/octet-stream',
        'X-Body-Length': String(body.length),
        'Content-Length': String(body.length),
      });
      res.end(body);
    });
    return undefined;
  }
  if (path === '/cookies') {
    res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2; Path=/']);
    return text(res, 200, 'cookies\n');
  }
  const st = /^\/status\/(\d{3})$/.exec(path);
  if (st) {
    const code = Number(st[1]);
    const h = { 'X-Status': String(code) };
    switch (code) {
      case 201: return text(res, 201, 'created\n', { ...h, Location: '/created' });
      case 204: res.writeHead(204, h); return res.end();
      case 301: return text(res, 301, 'moved\n', { ...h, Location: '/hello' });
      case 404: return text(res, 404, 'not found\n', h);
      case 500: return text(res, 500, 'error\n', h);
      default: return text(res, code, `status ${code}\n`, h);
    }
  }
  if (path === '/raise') {
    throw new Error('raised on purpose');
  }
  if (path === '/env') {
    const body = JSON.stringify({
      method: req.method,
      path,
      query: u.search.slice(1),
      remote_addr: req.socket.remoteAddress || '',
      session_id: req.nanogate.sessionId || '',
      request_id: req.nanogate.requestId || '',
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(body);
  }
  if (path === '/sleep') {
    const ms = Math.min(Number(u.searchParams.get('ms')) || 0, 60000);
    setTimeout(() => text(res, 200, 'slept\n'), ms);
    return undefined;
  }
  return text(res, 404, 'not found\n');
}

const args = process.argv.slice(2);
if (args[0] !== '--bind' || !args[1]) {
  console.error('usage: node conformance.js --bind URL');
  process.exit(2);
}
serve(app, args[1]).ready.then(() => console.log('ready'), (err) => {
  console.error(err.message);
  process.exit(1);
});
