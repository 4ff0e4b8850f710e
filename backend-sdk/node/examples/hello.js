'use strict';
// The smallest nanogate worker in Node.js: a plain request listener.
//
//   node examples/hello.js ipc:///tmp/nanogate-api.sock
//   nanogate --listen :8080 --route /=ipc:///tmp/nanogate-api.sock
//   curl localhost:8080/
//
// Inside a project: npm install nanogate-worker, then require('nanogate-worker').

const { serve } = require('..');

function hello(req, res) {
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(`hello from ${req.socket.remoteAddress}, session ${req.nanogate.sessionId}\n`);
}

const url = process.argv[2] || 'ipc:///tmp/nanogate-api.sock';
serve(hello, url).ready.then(() => console.log('ready'));
