'use strict';
// The sdk scenario's Node hello (bench/README.md): one plain (req, res)
// request listener, served unchanged by the Node SDK or by Node's own http
// server, so that the two runs differ only in what carries the request.
// With --express first, the listener is an Express app of one route
// (express from backend-sdk/node/node_modules: make sdk-deps).
//
//   node bench/contenders/node-hello/hello.js [--express] --bind ipc:///tmp/w.sock   (behind nanogate)
//   node bench/contenders/node-hello/hello.js [--express] --http 127.0.0.1:8080      (direct, or nginx's upstream)
//
// It prints "ready" once bound.

const http = require('http');
const path = require('path');

const BODY = 'hello world'; // payload.Hello: the harness checks it byte for byte
const SDK = path.join(__dirname, '../../../backend-sdk/node');

function hello(req, res) {
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(BODY);
}

// expressHello is the same answer from an Express app: its router, its
// request and response objects, res.send's headers (ETag included).
function expressHello() {
  const express = require(require.resolve('express', { paths: [SDK] }));
  const app = express();
  app.get('/hello', (req, res) => {
    res.type('text/plain').send(BODY);
  });
  return app;
}

function main(argv) {
  let listener = hello;
  if (argv[0] === '--express') {
    listener = expressHello();
    argv = argv.slice(1);
  }
  const [mode, where] = argv;
  if (mode === '--bind' && where) {
    // The SDK from this repository (no runtime dependencies).
    const { serve } = require(SDK);
    const server = serve(listener, where);
    server.on('error', (err) => {
      console.error(`bind ${where}: ${err.message}`);
      process.exit(1);
    });
    server.ready.then(() => console.log('ready'));
    return;
  }
  const m = mode === '--http' && /^(.+):(\d+)$/.exec(where || '');
  if (!m) {
    console.error('usage: hello.js --bind ipc:///path | --http HOST:PORT');
    process.exit(2);
  }
  const server = http.createServer(listener);
  // Keep-alive as nanogate's and nginx's fronts keep it: wrk's connections
  // stay open for the whole run either way.
  server.keepAliveTimeout = 75000;
  server.on('error', (err) => {
    console.error(`listen ${where}: ${err.message}`);
    process.exit(1);
  });
  server.listen(Number(m[2]), m[1], () => console.log('ready'));
  // SIGTERM: stop as the SDK's serve does, at once for a bench server.
  process.once('SIGTERM', () => process.exit(0));
}

main(process.argv.slice(2));
