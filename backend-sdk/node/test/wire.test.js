'use strict';
// The SP wire format: connection headers, message framing over TCP and
// IPC, the REQ backtrace, and the reader's split of a byte stream into
// messages however the bytes arrive.

const test = require('node:test');
const assert = require('node:assert');
const wire = require('../lib/wire');

test('connection header: bytes and checks', () => {
  assert.deepStrictEqual([...wire.header(wire.PROTO.REP)], [0, 0x53, 0x50, 0, 0, 0x31, 0, 0]);
  assert.deepStrictEqual([...wire.header(wire.PROTO.PUSH)], [0, 0x53, 0x50, 0, 0, 0x50, 0, 0]);
  wire.checkHeader(wire.header(wire.PROTO.REQ), wire.PROTO.REQ);
  assert.throws(() => wire.checkHeader(wire.header(wire.PROTO.PUSH), wire.PROTO.REQ), { code: 'ERR_SP_PROTOCOL' });
  assert.throws(() => wire.checkHeader(Buffer.from('GET / HT'), wire.PROTO.REQ), { code: 'ERR_SP_HEADER' });
  const reserved = wire.header(wire.PROTO.REQ);
  reserved[7] = 1;
  assert.throws(() => wire.checkHeader(reserved, wire.PROTO.REQ), { code: 'ERR_SP_HEADER' });
});

test('frame: TCP is a 64-bit big-endian size, IPC adds the type byte 1', () => {
  const body = Buffer.from('hi');
  assert.deepStrictEqual([...wire.frame(false, [Buffer.from([0x80, 0, 0, 7]), body])],
    [0, 0, 0, 0, 0, 0, 0, 6, 0x80, 0, 0, 7, 0x68, 0x69]);
  assert.deepStrictEqual([...wire.frame(true, ['ab', body])], [1, 0, 0, 0, 0, 0, 0, 0, 4, 0x61, 0x62, 0x68, 0x69]);
  // Sizes past 32 bits are encoded in both words.
  assert.deepStrictEqual([...wire.framePrefix(false, 2 ** 32 + 5)], [0, 0, 0, 1, 0, 0, 0, 5]);
});

test('backtrace: up to the first word with the high bit set, at most 8 hops', () => {
  assert.strictEqual(wire.backtraceLength(Buffer.from([0x80, 0, 0, 1, 0x41])), 4);
  // A device's hop (high bit clear) in front of the request id.
  assert.strictEqual(wire.backtraceLength(Buffer.from([0, 0, 0, 9, 0x80, 0, 0, 1])), 8);
  assert.strictEqual(wire.backtraceLength(Buffer.from([0x80, 0, 0])), -1);
  assert.strictEqual(wire.backtraceLength(Buffer.alloc(40)), -1);
});

test('the drain notice reads as a reply to request id 0x80000000', () => {
  assert.strictEqual(wire.frame(false, [wire.DRAIN_ID, wire.DRAIN_BODY]).toString('latin1'),
    '\0\0\0\0\0\0\0\x15\x80\0\0\0nanogate:draining');
});

function collect(ipc, max = 1 << 20) {
  const got = [];
  const r = new wire.Reader(ipc, max, (m) => got.push(Buffer.from(m).toString('latin1')));
  return { r, got };
}

for (const ipc of [false, true]) {
  test(`reader (${ipc ? 'ipc' : 'tcp'}): messages split anywhere, several in one chunk`, () => {
    const msgs = ['', 'a', 'hello world', 'x'.repeat(70000)];
    const stream = Buffer.concat(msgs.map((m) => wire.frame(ipc, [m])));
    for (const step of [1, 3, 9, 4096, stream.length]) {
      const { r, got } = collect(ipc);
      for (let i = 0; i < stream.length; i += step) r.push(stream.subarray(i, i + step));
      assert.deepStrictEqual(got, msgs, `chunks of ${step}`);
    }
  });
}

test('reader: oversize and malformed messages are refused', () => {
  const { r } = collect(false, 10);
  assert.throws(() => r.push(wire.frame(false, ['x'.repeat(11)])), { code: 'ERR_SP_TOO_LONG' });
  const ipc = collect(true).r;
  assert.throws(() => ipc.push(Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 0])), { code: 'ERR_SP_FRAME' });
});

test('reader: paused, it delivers nothing until resumed', () => {
  const { r, got } = collect(false);
  r.paused = true;
  r.push(Buffer.concat([wire.frame(false, ['a']), wire.frame(false, ['b'])]));
  assert.deepStrictEqual(got, []);
  r.paused = false;
  r.drain();
  assert.deepStrictEqual(got, ['a', 'b']);
});

test('parseURL', () => {
  assert.deepStrictEqual(wire.parseURL('ipc:///tmp/x.sock'), { ipc: true, path: '/tmp/x.sock', url: 'ipc:///tmp/x.sock' });
  assert.deepStrictEqual(wire.parseURL('tcp://127.0.0.1:5555'), { ipc: false, host: '127.0.0.1', port: 5555, url: 'tcp://127.0.0.1:5555' });
  assert.strictEqual(wire.parseURL('tcp://*:5555').host, undefined);
  assert.strictEqual(wire.parseURL('tcp://[::1]:80').host, '::1');
  for (const bad of ['ws://h:1/x', 'tcp://h', 'ipc://', 'nope', 'tcp://h:70000']) {
    assert.throws(() => wire.parseURL(bad), { code: 'ERR_SP_URL' }, bad);
  }
});
