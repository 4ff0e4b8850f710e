'use strict';
// The `http` worker format (docs/PROTOCOL.md): the gateway sends each
// request as the bytes of an HTTP/1.1 request (request line, header lines in
// the client's order and spelling, the forwarded headers, CRLF, the body,
// de-chunked, with Content-Length) and takes one complete HTTP/1.x response
// back. Pure: no I/O.

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');

class ParseError extends Error {
  constructor(message) {
    super(`nanogate: bad request message: ${message}`);
    this.name = 'ParseError';
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET = /^[\x21-\x7e\x80-\xff]+$/; // no SP, no controls
const VERSION = /^HTTP\/(\d)\.(\d)$/;

// headEnd returns the offset of the body (just past the empty line), or -1
// when the head is incomplete. The gateway ends lines with CRLF; a bare LF,
// which a hand-written peer may send, is read as well.
function headEnd(msg) {
  const i = msg.indexOf(CRLFCRLF);
  if (i >= 0) {
    const j = msg.subarray(0, i + 2).indexOf(LFLF);
    return j >= 0 ? j + 2 : i + 4;
  }
  const j = msg.indexOf(LFLF);
  return j >= 0 ? j + 2 : -1;
}

// parseHead reads a request head: { method, url, versionMajor,
// versionMinor, rawHeaders (flat [name, value, ...] as Node's parser gives
// them: names as sent, values without surrounding whitespace), bodyStart }.
// It throws a ParseError.
function parseHead(msg) {
  const end = headEnd(msg);
  if (end < 0) throw new ParseError('no empty line after the header');
  const head = msg.latin1Slice ? msg.latin1Slice(0, end) : msg.toString('latin1', 0, end);
  let nl = head.indexOf('\n');
  let line = head.slice(0, nl > 0 && head.charCodeAt(nl - 1) === 13 ? nl - 1 : nl);
  const sp1 = line.indexOf(' ');
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || line.indexOf(' ', sp2 + 1) >= 0) throw new ParseError(`bad request line ${JSON.stringify(line.slice(0, 200))}`);
  const method = line.slice(0, sp1);
  const url = line.slice(sp1 + 1, sp2);
  const v = VERSION.exec(line.slice(sp2 + 1));
  if (!TOKEN.test(method) || !TARGET.test(url) || !v) throw new ParseError(`bad request line ${JSON.stringify(line.slice(0, 200))}`);
  const rawHeaders = [];
  let pos = nl + 1;
  for (;;) {
    nl = head.indexOf('\n', pos);
    let lineEnd = nl;
    if (head.charCodeAt(nl - 1) === 13) lineEnd--;
    if (lineEnd === pos) break; // the empty line
    line = head.slice(pos, lineEnd);
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) throw new ParseError(`bad header line ${JSON.stringify(line.slice(0, 200))}`);
    let a = colon + 1;
    let b = line.length;
    while (a < b && (line.charCodeAt(a) === 32 || line.charCodeAt(a) === 9)) a++;
    while (b > a && (line.charCodeAt(b - 1) === 32 || line.charCodeAt(b - 1) === 9)) b--;
    rawHeaders.push(name, a === 0 && b === line.length ? line : line.slice(a, b));
    pos = nl + 1;
  }
  return { method, url, versionMajor: +v[1], versionMinor: +v[2], rawHeaders, bodyStart: end };
}

// parseRequest reads a whole request message of the http format: the head,
// and the body (a view of msg), which must be as long as Content-Length
// says (the gateway re-frames every body; without the header the body is
// what follows the head).
function parseRequest(msg) {
  const r = parseHead(msg);
  r.body = msg.subarray(r.bodyStart);
  const cl = headerValue(r.rawHeaders, 'content-length');
  if (cl !== undefined && (!/^\d+$/.test(cl) || Number(cl) !== r.body.length)) {
    throw new ParseError(`Content-Length ${JSON.stringify(cl)} but ${r.body.length} bytes of body`);
  }
  return r;
}

// headerValue returns the value of the first header named name (lower
// case), or undefined.
function headerValue(raw, name) {
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i];
    if (n.length === name.length && n.toLowerCase() === name) return raw[i + 1];
  }
  return undefined;
}

// lastHeaderValue returns the value of the last header named name.
function lastHeaderValue(raw, name) {
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const n = raw[i];
    if (n.length === name.length && n.toLowerCase() === name) return raw[i + 1];
  }
  return undefined;
}

// clientIP is the client's address: the last entry of the last
// X-Forwarded-For, which the gateway appends (docs/PROTOCOL.md).
function clientIP(raw) {
  const xff = lastHeaderValue(raw, 'x-forwarded-for');
  if (!xff) return undefined;
  const i = xff.lastIndexOf(',');
  return (i < 0 ? xff : xff.slice(i + 1)).trim() || undefined;
}

const STATUS_TEXT = require('http').STATUS_CODES;

// reply returns a whole response message with a Content-Length, for the
// answers the SDK writes itself (500 after an exception, 503 when full).
function reply(status, body, headers = []) {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] || 'Unknown'}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  head += `Content-Length: ${b.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), b]);
}

// errorReply is the SDK's 500, naming the request id as the gateway's own
// error bodies do.
function errorReply(status, requestId) {
  const text = `${status} ${STATUS_TEXT[status]}${requestId ? ` (request ${requestId})` : ''}\n`;
  return reply(status, text, ['Content-Type', 'text/plain; charset=utf-8']);
}

module.exports = { parseHead, parseRequest, headEnd, headerValue, lastHeaderValue, clientIP, reply, errorReply, ParseError };
