'use strict';
// A minimal SP peer for the tests, written from the wire format alone (not
// with lib/sp.js, so that the two check each other): it handshakes as a
// given protocol, sends messages and queues what it receives.

const net = require('net');
const fs = require('fs');
const os = require('os');
const path = require('path');

function frameBytes(ipc, payload) {
  const pre = Buffer.alloc(ipc ? 9 : 8);
  if (ipc) pre[0] = 1;
  pre.writeBigUInt64BE(BigInt(payload.length), ipc ? 1 : 0);
  return Buffer.concat([pre, payload]);
}

class Peer {
  constructor(sock, ipc, proto) {
    this.sock = sock;
    this.ipc = ipc;
    this.buf = Buffer.alloc(0);
    this.peerHeader = null;
    this.msgs = [];
    this.waiters = [];
    this.closed = false;
    sock.write(Buffer.from([0, 0x53, 0x50, 0, proto >> 8, proto & 0xff, 0, 0]));
    sock.on('data', (d) => this.onData(d));
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error('peer closed'));
    });
    sock.on('error', () => {});
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    if (!this.peerHeader) {
      if (this.buf.length < 8) return;
      this.peerHeader = this.buf.subarray(0, 8);
      this.buf = this.buf.subarray(8);
    }
    const pre = this.ipc ? 9 : 8;
    while (this.buf.length >= pre) {
      const n = Number(this.buf.readBigUInt64BE(this.ipc ? 1 : 0));
      if (this.buf.length < pre + n) return;
      const m = this.buf.subarray(pre, pre + n);
      this.buf = this.buf.subarray(pre + n);
      const w = this.waiters.shift();
      if (w) w.resolve(m);
      else this.msgs.push(m);
    }
  }

  send(payload) {
    this.sock.write(frameBytes(this.ipc, Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'latin1')));
  }

  // next resolves with the next message (within ms).
  next(ms = 5000) {
    if (this.msgs.length) return Promise.resolve(this.msgs.shift());
    if (this.closed) return Promise.reject(new Error('peer closed'));
    return new Promise((resolve, reject) => {
      const w = { resolve, reject };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no message within ${ms} ms`));
      }, ms);
      w.resolve = (m) => { clearTimeout(t); resolve(m); };
      w.reject = (e) => { clearTimeout(t); reject(e); };
      this.waiters.push(w);
    });
  }

  // closedSoon resolves once the connection is closed.
  closedSoon() {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.sock.once('close', resolve));
  }

  close() {
    this.sock.destroy();
  }
}

// connect dials url (ipc:// or tcp://) as proto and resolves once the
// peer's header has arrived.
function connect(url, proto) {
  const ipc = url.startsWith('ipc://');
  return new Promise((resolve, reject) => {
    const sock = ipc ? net.connect(url.slice(6)) : net.connect(Number(url.split(':').pop()), '127.0.0.1');
    const p = new Peer(sock, ipc, proto);
    sock.once('error', reject);
    const check = () => {
      if (p.peerHeader) resolve(p);
      else sock.once('data', () => setImmediate(check));
    };
    sock.once('connect', check);
  });
}

// listen binds url as proto; onPeer gets each Peer. Resolves the server.
function listen(url, proto, onPeer) {
  const ipc = url.startsWith('ipc://');
  return new Promise((resolve) => {
    const srv = net.createServer((sock) => onPeer(new Peer(sock, ipc, proto)));
    if (ipc) srv.listen(url.slice(6), () => resolve(srv));
    else srv.listen(Number(url.split(':').pop()), '127.0.0.1', () => resolve(srv));
  });
}

// tmpURL returns an ipc:// URL in a new temporary directory, removed when
// the test process exits.
const tmpDirs = [];
process.on('exit', () => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmpURL(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ngn'));
  tmpDirs.push(dir);
  return `ipc://${path.join(dir, name)}.sock`;
}

// freeTCP returns a tcp:// URL on a loopback port that was free a moment ago.
function freeTCP() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(`tcp://127.0.0.1:${port}`));
    });
  });
}

const PROTO = { REQ: 0x30, REP: 0x31, PUSH: 0x50, PULL: 0x51 };

module.exports = { Peer, connect, listen, tmpURL, freeTCP, PROTO, frameBytes };
