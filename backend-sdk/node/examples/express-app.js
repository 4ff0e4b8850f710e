'use strict';
// An ordinary Express app, served through nanogate by the last lines only.
//
//   node examples/express-app.js --bind ipc:///tmp/nanogate-api.sock
//   nanogate --listen :8080 --route /=ipc:///tmp/nanogate-api.sock
//
// (--dial URL instead of --bind for a gateway endpoint in mode "listen".)
// cmd/nanogate/node_test.go drives it behind the real gateway.

const crypto = require('crypto');
const express = require('express');

const app = express();
// req.socket.remoteAddress is the client's address as the gateway saw it
// (the last X-Forwarded-For entry, which the gateway appends), so req.ip
// needs no 'trust proxy' for the gateway itself. Trusting loopback trusts
// a proxy on this host in front of the gateway (the tests' client plays
// one) to name the client in X-Forwarded-For.
app.set('trust proxy', 'loopback');

app.get('/hello', (req, res) => {
  res.send('hello from express\n');
});

app.get('/json', (req, res) => {
  res.json({ method: req.method, path: req.path, query: req.query, session: req.nanogate && req.nanogate.sessionId });
});

app.get('/cookies', (req, res) => {
  res.cookie('a', '1', { path: '/' });
  res.cookie('b', '2', { path: '/', httpOnly: true });
  res.type('text').send(`cookies you sent: ${req.get('cookie') || ''}\n`);
});

app.get('/status/:code', (req, res) => {
  const code = Number(req.params.code);
  res.set('X-Status', String(code));
  if (code === 301) return res.redirect(301, '/hello');
  if (code === 204) return res.status(204).end();
  res.status(code).send(`status ${code}\n`);
});

app.get('/ip', (req, res) => {
  res.json({ ip: req.ip, ips: req.ips, protocol: req.protocol, remote: req.socket.remoteAddress });
});

// A binary upload, taken whole as a Buffer.
app.post('/upload', express.raw({ type: () => true, limit: '16mb' }), (req, res) => {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  res.json({ length: body.length, sha256: crypto.createHash('sha256').update(body).digest('hex'), type: req.get('content-type') || '' });
});

// A file from disk (send streams it: pipe, back-pressure, ETag, ranges).
app.get('/source', (req, res) => {
  res.sendFile(__filename);
});

app.get('/bytes', (req, res) => {
  res.type('application/octet-stream').send(Buffer.from([0, 1, 2, 255, 0, 10, 13]));
});

app.get('/error', () => {
  throw new Error('an error in a route'); // Express answers 500 itself
});

app.get('/async-error', (req, res, next) => {
  setImmediate(() => next(new Error('an error passed to next')));
});

app.get('/headers', (req, res) => {
  res.json({ rawHeaders: req.rawHeaders, httpVersion: req.httpVersion });
});

// Errors are logged with the request id the gateway gave them (its own log
// names the same id), then answered by Express's own 500.
app.use((err, req, res, next) => {
  console.error(`request_id=${req.get('x-request-id')} error: ${err.stack || err}`);
  next(err);
});

// Serving: the only nanogate-specific lines.
const { serve } = require('..');

const args = process.argv.slice(2);
const dial = args[0] === '--dial';
const url = args[1];
if (args[0] === '--http' && url) {
  // The same app on Node's own HTTP server, to compare (docs/sdk-node.md).
  require('http').createServer(app).listen(Number(url), '127.0.0.1', () => console.log('ready'));
} else if (!url || (args[0] !== '--bind' && args[0] !== '--dial')) {
  console.error('usage: node express-app.js --bind URL | --dial URL | --http PORT');
  process.exit(2);
} else {
  serve(app, url, { dial }).ready.then(() => console.log('ready'), (err) => {
    console.error(err.message);
    process.exit(1);
  });
}
