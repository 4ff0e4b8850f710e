'use strict';
// Session frames (docs/PROTOCOL.md, format frames), as package
// protocol/frames encodes them. Pure: no I/O.
//
//   frame  = sid SP type SP stream LF body
//   sid    = 32 lower-case hex digits   ; the session id (X-Nanogate-Session)
//   type   = 1*16( %x61-7A / "-" )      ; a word of TYPES
//   stream = 1*10DIGIT                  ; < 2^32; 0 in a push: the session's current stream
//   body   = *OCTET

const TYPES = new Set([
  'request', 'body', 'end', 'credit', 'websocket', 'websocket-binary', 'websocket-close',
  'ping', 'pong', 'headers', 'chunk', 'close', 'retry',
]);

// WINDOW is the body bytes a worker may send on a stream before the
// gateway grants credit (frames.Window).
const WINDOW = 1 << 20;

const SID_LEN = 32;

class FrameError extends Error {
  constructor(message) {
    super(`frames: ${message}`);
    this.name = 'FrameError';
  }
}

function isLowerHex(c) {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

// parse reads one frame: { sid (hex string), type, stream, body (a view of
// msg) }. It throws a FrameError.
function parse(msg) {
  if (msg.length < SID_LEN + 5) throw new FrameError('message shorter than a frame header');
  if (msg[SID_LEN] !== 0x20) throw new FrameError('header fields not separated by SP, SP, LF');
  for (let i = 0; i < SID_LEN; i++) {
    if (!isLowerHex(msg[i])) throw new FrameError('session id is not 32 lower-case hex digits');
  }
  const sp = msg.indexOf(0x20, SID_LEN + 1);
  if (sp < 0 || sp - SID_LEN - 1 > 16) throw new FrameError('header fields not separated by SP, SP, LF');
  const type = msg.toString('latin1', SID_LEN + 1, sp);
  if (!TYPES.has(type)) throw new FrameError(`unknown frame type ${JSON.stringify(type)}`);
  let n = 0;
  let i = sp + 1;
  for (; i < msg.length && msg[i] >= 0x30 && msg[i] <= 0x39; i++) {
    n = n * 10 + (msg[i] - 0x30);
    if (i - sp > 10 || n > 0xffffffff) throw new FrameError('stream is not a decimal number below 2^32');
  }
  if (i === sp + 1) throw new FrameError('stream is not a decimal number below 2^32');
  if (i === msg.length || msg[i] !== 0x0a) throw new FrameError('header fields not separated by SP, SP, LF');
  return { sid: msg.toString('latin1', 0, SID_LEN), type, stream: n, body: msg.subarray(i + 1) };
}

// header returns the frame header (everything before the body) as a
// latin1 string.
function header(sid, type, stream) {
  return `${sid} ${type} ${stream}\n`;
}

// build returns a whole frame as one Buffer.
function build(sid, type, stream, body) {
  const h = header(sid, type, stream);
  if (!body || body.length === 0) return Buffer.from(h, 'latin1');
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const out = Buffer.allocUnsafe(h.length + b.length);
  out.latin1Write(h, 0);
  b.copy(out, h.length);
  return out;
}

// parseCredit reads the body of a credit frame; -1 if it is not a count.
function parseCredit(body) {
  if (body.length === 0 || body.length > 10) return -1;
  let n = 0;
  for (const c of body) {
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

// parseClientClose reads the gateway's websocket-close: the client's code
// and reason; empty is 1005 (no code in the client's close).
function parseClientClose(body) {
  if (body.length === 0) return { code: 1005, reason: '' };
  const s = body.toString('utf8');
  const m = /^(\d{1,4})(?: ([\s\S]*))?$/.exec(s);
  if (!m) return { code: 1005, reason: s };
  return { code: Number(m[1]), reason: m[2] || '' };
}

module.exports = { TYPES, WINDOW, SID_LEN, FrameError, parse, header, build, parseCredit, parseClientClose };
