'use strict';
// nanogate-worker: serve a Node.js (req, res) request listener, an Express
// app included, as a nanogate worker. docs/sdk-node.md tells how.
//
//   const { serve } = require('nanogate-worker');
//   serve(app, 'ipc:///tmp/x.sock');                      // format http, the gateway dials
//   serve(app, 'tcp://gateway:5555', { dial: true });     // the gateway listens (mode "listen")
//   serve(app, url, { format: 'frames', onWebSocket });   // streaming and WebSocket

const { Server } = require('./lib/server');
const { StreamServer } = require('./lib/stream');
const { Pusher } = require('./lib/push');

// serve starts serving app on url (a string or an array of them) and
// returns the server at once; server.ready resolves once every URL is
// bound (or dialling), and a failure to bind is emitted as 'error'. On
// SIGTERM or SIGINT it drains (docs/PROTOCOL.md) and exits 0, unless
// options.signals is false.
//
// Options: format ('http', the default, or 'frames': the route's format),
// dial (connect to a gateway that listens instead of binding), onWebSocket
// ((ws, req) for WebSocket requests on format frames; or listen to the
// server's 'websocket' event), log (a function (level, msg, fields), or
// false), maxInFlight, maxRecvSize, shutdownTimeout (ms).
function serve(app, url, options = {}) {
  const format = options.format || 'http';
  let server;
  if (format === 'http') server = new Server(app, options);
  else if (format === 'frames') server = new StreamServer(app, options);
  else throw new TypeError(`nanogate: unknown format ${JSON.stringify(format)} (want 'http' or 'frames')`);
  const urls = Array.isArray(url) ? url : [url];
  server.ready = Promise.all(urls.map((u) => (options.dial ? server.dial(u) : server.listen(u))));
  server.ready.then(() => server.emit('listening'), (err) => {
    server.close();
    if (server.listenerCount('error') > 0) server.emit('error', err);
    else process.nextTick(() => { throw err; });
  });
  // Callers that only await ready handle the failure there.
  server.ready.catch(() => {});
  if (options.signals !== false) drainOnSignal(server);
  return server;
}

// The servers that SIGTERM and SIGINT drain, all of them before the exit.
const draining = new Set();

function drainOnSignal(server) {
  if (draining.size === 0) {
    // once: a second SIGTERM kills at once, as Node's default does.
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  draining.add(server);
}

function onSignal(sig) {
  const servers = [...draining];
  for (const s of servers) s.log('info', 'draining', { signal: sig });
  Promise.all(servers.map((s) => s.shutdown())).then(() => process.exit(0), (err) => {
    servers[0].log('error', 'shutdown failed', { err });
    process.exit(1);
  });
}

module.exports = { serve, Server, StreamServer, Pusher };
