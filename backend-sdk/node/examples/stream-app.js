'use strict';
// Streaming and WebSocket on a route of format frames, with a plain
// request listener:
//
//   node examples/stream-app.js --bind ipc:///tmp/nanogate-demo.sock
//   nanogate --config nanogate.toml      # its demo route: format "frames", websocket = true
//
//   curl -N localhost:8080/sse           server-sent events, one every 200 ms
//   curl -T file localhost:8080/upload   a streamed upload, counted as it arrives
//   curl localhost:8080/big?mb=64        a download that waits for a slow client
//   ws://localhost:8080/ws               echo; "close" makes the worker close 4000
//
// cmd/nanogate/node_test.go drives it behind the real gateway.

const crypto = require('crypto');
const { serve } = require('..');

function app(req, res) {
  const u = new URL(req.url, 'http://x');
  switch (u.pathname) {
    case '/sse': {
      const n = Number(u.searchParams.get('n')) || 10;
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      let i = 0;
      const timer = setInterval(() => {
        res.write(`data: ${i} ${new Date().toISOString()}\n\n`);
        if (++i === n) {
          clearInterval(timer);
          res.end();
        }
      }, 200);
      // The client went away: the gateway ended the stream.
      res.on('close', () => {
        clearInterval(timer);
        if (!res.writableFinished) console.log(`sse ${req.headers['x-request-id']}: client gone after ${i} events`);
      });
      return;
    }
    case '/upload': {
      const hash = crypto.createHash('sha256');
      let n = 0;
      req.on('data', (c) => {
        hash.update(c);
        n += c.length;
      });
      req.on('end', () => {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ bytes: n, sha256: hash.digest('hex') }));
      });
      return;
    }
    case '/big': {
      // Written as fast as the client takes it: write() returns false
      // when the stream's window is used up, and 'drain' says when to go on.
      const total = (Number(u.searchParams.get('mb')) || 8) << 20;
      const piece = Buffer.alloc(64 << 10, 'nanogate');
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(total) });
      let sent = 0;
      const more = () => {
        while (sent < total) {
          const p = piece.subarray(0, Math.min(piece.length, total - sent));
          sent += p.length;
          if (!res.write(p)) {
            res.once('drain', more);
            return;
          }
        }
        res.end();
      };
      more();
      return;
    }
    default:
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`hello from a frames route, session ${req.nanogate.sessionId}\n`);
  }
}

function onWebSocket(ws, req) {
  ws.send(`session ${ws.sessionId}`);
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data.toString() === 'close') {
      ws.close(4000, 'bye');
      return;
    }
    ws.send(isBinary ? data : data.toString());
  });
  ws.on('close', (code, reason) => console.log(`ws ${req.headers['x-request-id']}: closed ${code} ${reason}`));
}

const args = process.argv.slice(2);
const dial = args[0] === '--dial';
if (!args[1] || (args[0] !== '--bind' && !dial)) {
  console.error('usage: node stream-app.js --bind URL | --dial URL');
  process.exit(2);
}
serve(app, args[1], { format: 'frames', dial, onWebSocket }).ready.then(() => console.log('ready'), (err) => {
  console.error(err.message);
  process.exit(1);
});
