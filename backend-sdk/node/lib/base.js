'use strict';
// WorkerBase: what the two servers share, the REP one (server.js, format
// http) and the PULL one (stream.js, format frames): the app, the options
// and the endpoints they listen on or dial. A subclass gives its SP
// protocol and adopt(conn), called for each connection an endpoint makes.

const { EventEmitter } = require('events');
const { Endpoint } = require('./sp');
const { loggerOf } = require('./log');

class WorkerBase extends EventEmitter {
  constructor(app, opts, defaults, proto) {
    super();
    if (typeof app !== 'function') throw new TypeError('nanogate: serve(app, url): app must be a (req, res) request listener');
    this.app = app;
    this.opts = { ...defaults, ...opts };
    this.log = loggerOf(opts.log);
    this.proto = proto;
    this.endpoints = [];
    this.stopping = false;
  }

  // listen binds url (the gateway dials it: endpoint mode "dial").
  listen(url) {
    return this.attach(url, true);
  }

  // dial connects to a gateway that listens at url (endpoint mode
  // "listen"), and redials it whenever the connection drops.
  dial(url) {
    return this.attach(url, false);
  }

  async attach(url, listen) {
    if (this.stopping) throw new Error('nanogate: server is closed');
    const ep = new Endpoint(url, {
      self: this.proto, listen, maxRecv: this.opts.maxRecvSize, log: this.log,
      onConn: (c) => this.adopt(c),
    });
    this.endpoints.push(ep);
    await ep.start();
    return ep;
  }
}

module.exports = { WorkerBase };
