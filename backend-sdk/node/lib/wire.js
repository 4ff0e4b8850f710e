'use strict';
// The SP wire format (nanomsg's scalability protocols over TCP and IPC),
// byte-compatible with libnanomsg, NNG, mangos and nanogate's internal/sp.
// Pure: no sockets here, so that the tests can check every byte.
//
// Connection header, both directions, before anything else (8 bytes):
//
//   0x00 'S' 'P' 0x00  protocol(uint16, big endian)  0x0000
//
// Then messages, over TCP:   size(uint64, big endian) payload(size bytes)
// and over IPC the same preceded by one byte 0x01 (the message type).
//
// REQ/REP payload: a backtrace of 32-bit big-endian words, then the body.
// The REQ's request id is the word with the high bit set; devices in
// between push words with the high bit clear in front of it. A REP returns
// the whole backtrace unchanged in front of its reply.

const PROTO = Object.freeze({ REQ: 0x30, REP: 0x31, PUSH: 0x50, PULL: 0x51 });

// The peer each protocol talks to.
const PEER = Object.freeze({ [PROTO.REQ]: PROTO.REP, [PROTO.REP]: PROTO.REQ, [PROTO.PUSH]: PROTO.PULL, [PROTO.PULL]: PROTO.PUSH });

class SPError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'SPError';
    this.code = code;
  }
}

function header(proto) {
  return Buffer.from([0, 0x53, 0x50, 0, proto >> 8, proto & 0xff, 0, 0]);
}

// checkHeader validates the peer's 8 header bytes; it throws an SPError.
function checkHeader(h, wantProto) {
  if (h.length !== 8 || h[0] !== 0 || h[1] !== 0x53 || h[2] !== 0x50 || h[3] !== 0 || h[6] !== 0 || h[7] !== 0) {
    throw new SPError('sp: peer sent a bad connection header', 'ERR_SP_HEADER');
  }
  const proto = h.readUInt16BE(4);
  if (proto !== wantProto) {
    throw new SPError(`sp: peer speaks protocol 0x${proto.toString(16)}, want 0x${wantProto.toString(16)}`, 'ERR_SP_PROTOCOL');
  }
}

// framePrefix returns the transport framing of a payload of size bytes.
function framePrefix(ipc, size) {
  const b = Buffer.allocUnsafe(ipc ? 9 : 8);
  let o = 0;
  if (ipc) b[o++] = 1;
  b.writeUInt32BE(Math.floor(size / 0x100000000), o);
  b.writeUInt32BE(size >>> 0, o + 4);
  return b;
}

// frame returns one message as a single Buffer: framing, then every part
// (Buffers) in order.
function frame(ipc, parts) {
  let size = 0;
  for (const p of parts) size += p.length;
  const pre = ipc ? 9 : 8;
  const b = Buffer.allocUnsafe(pre + size);
  let o = 0;
  if (ipc) b[o++] = 1;
  b.writeUInt32BE(Math.floor(size / 0x100000000), o);
  b.writeUInt32BE(size >>> 0, o + 4);
  o = pre;
  for (const p of parts) {
    if (typeof p === 'string') o += b.latin1Write(p, o);
    else o += p.copy(b, o);
  }
  return b;
}

// maxHops bounds the backtrace, as nanomsg's REP does (its TTL is 8).
const MAX_HOPS = 8;

// backtraceLength returns the length of the backtrace at the start of a
// REQ message (up to and including the request id), or -1 if it is
// malformed.
function backtraceLength(msg) {
  for (let n = 0; n < MAX_HOPS * 4; n += 4) {
    if (n + 4 > msg.length) return -1;
    if (msg[n] & 0x80) return n + 4;
  }
  return -1;
}

// The drain notice (docs/PROTOCOL.md, Draining): a reply to request id
// 0x80000000, which nanogate never gives a request, with this body.
const DRAIN_ID = Buffer.from([0x80, 0, 0, 0]);
const DRAIN_BODY = Buffer.from('nanogate:draining');

const EMPTY = Buffer.alloc(0);

// Reader splits a byte stream into messages. push() takes each chunk the
// socket reads and calls onMessage(payload) for every complete message;
// a payload is a view of the chunk when it lies within one (no copy).
class Reader {
  constructor(ipc, maxSize, onMessage) {
    this.ipc = ipc;
    this.maxSize = maxSize;
    this.onMessage = onMessage;
    this.prefix = ipc ? 9 : 8;
    this.chunks = [];
    this.buffered = 0;
    this.want = -1; // payload size of the message being read, -1 while its prefix is incomplete
    this.paused = false; // set by the owner to stop delivering until resume()
  }

  // push adds a chunk; it throws an SPError on a malformed or oversize message.
  push(chunk) {
    if (this.buffered === 0) {
      this.chunks.length = 0;
      this.chunks.push(chunk);
    } else {
      this.chunks.push(chunk);
    }
    this.buffered += chunk.length;
    this.drain();
  }

  // drain delivers what is complete, unless paused.
  drain() {
    while (!this.paused) {
      if (this.want < 0) {
        if (this.buffered < this.prefix) return;
        const head = this.take(this.prefix);
        let o = 0;
        if (this.ipc) {
          if (head[0] !== 1) throw new SPError('sp: malformed message (IPC type byte)', 'ERR_SP_FRAME');
          o = 1;
        }
        const hi = head.readUInt32BE(o);
        const lo = head.readUInt32BE(o + 4);
        const size = hi * 0x100000000 + lo;
        if (hi > 0x1fffff || size > this.maxSize) {
          throw new SPError(`sp: message of ${size} bytes over the limit of ${this.maxSize}`, 'ERR_SP_TOO_LONG');
        }
        this.want = size;
      }
      if (this.buffered < this.want) return;
      const msg = this.take(this.want);
      this.want = -1;
      this.onMessage(msg);
    }
  }

  // take removes n buffered bytes (n <= buffered) and returns them.
  take(n) {
    if (n === 0) return EMPTY;
    const first = this.chunks[0];
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    while (o < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - o);
      c.copy(out, o, 0, k);
      o += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}

// parseURL reads tcp://host:port and ipc:///path (ipc://relative too, as
// nanomsg does) into options for net.connect and net.Server.listen.
function parseURL(url) {
  const m = /^([a-z+]+):\/\/(.*)$/.exec(url);
  if (!m) throw new SPError(`sp: ${JSON.stringify(url)} is not a URL`, 'ERR_SP_URL');
  const [, scheme, rest] = m;
  if (scheme === 'ipc') {
    if (!rest) throw new SPError(`sp: ${url}: empty path`, 'ERR_SP_URL');
    return { ipc: true, path: rest, url };
  }
  if (scheme === 'tcp') {
    const hp = /^(?:\[([^\]]+)\]|([^:/]*)):(\d+)$/.exec(rest);
    if (!hp) throw new SPError(`sp: ${url}: want tcp://host:port`, 'ERR_SP_URL');
    let host = hp[1] !== undefined ? hp[1] : hp[2];
    const port = Number(hp[3]);
    if (port > 65535) throw new SPError(`sp: ${url}: bad port`, 'ERR_SP_URL');
    // mangos and nanomsg take "*" (and an empty host) for every interface.
    if (host === '*' || host === '') host = undefined;
    return { ipc: false, host, port, url };
  }
  throw new SPError(`sp: ${url}: only tcp:// and ipc:// are served`, 'ERR_SP_URL');
}

module.exports = {
  PROTO, PEER, SPError, header, checkHeader, framePrefix, frame, backtraceLength,
  DRAIN_ID, DRAIN_BODY, Reader, parseURL, MAX_HOPS,
};
