'use strict';
// Session frames: every golden vector of protocol/frames/testdata parsed to
// its fields and built back to the same bytes; every file in invalid/
// refused.

const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const frames = require('../lib/frames');

const DIR = path.join(__dirname, '..', '..', '..', 'protocol', 'frames', 'testdata');
const vectors = JSON.parse(fs.readFileSync(path.join(DIR, 'vectors.json'), 'utf8'));

test('every .frame file has a vector', () => {
  const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.frame')).sort();
  assert.deepStrictEqual(files, vectors.valid.map((v) => v.file).sort());
});

for (const v of vectors.valid) {
  test(`vector ${v.file}`, () => {
    const msg = fs.readFileSync(path.join(DIR, v.file));
    const f = frames.parse(msg);
    assert.strictEqual(f.sid, v.sid);
    assert.strictEqual(f.type, v.type);
    assert.strictEqual(f.stream, v.stream);
    assert.strictEqual(f.body.toString('hex'), v.body_hex);
    assert.deepStrictEqual(frames.build(v.sid, v.type, v.stream, Buffer.from(v.body_hex, 'hex')), msg);
  });
}

test('invalid frames are refused', () => {
  const files = fs.readdirSync(path.join(DIR, 'invalid'));
  assert.ok(files.length >= 5);
  for (const f of files) {
    assert.throws(() => frames.parse(fs.readFileSync(path.join(DIR, 'invalid', f))), frames.FrameError, f);
  }
});

test('stream numbers: up to 2^32-1, no more than 10 digits', () => {
  const sid = '0'.repeat(32);
  assert.strictEqual(frames.parse(Buffer.from(`${sid} end 4294967295\n`)).stream, 4294967295);
  assert.throws(() => frames.parse(Buffer.from(`${sid} end 4294967296\n`)), frames.FrameError);
  assert.throws(() => frames.parse(Buffer.from(`${sid} end 00000000001\n`)), frames.FrameError);
  assert.throws(() => frames.parse(Buffer.from(`${sid}  end 1\n`)), frames.FrameError);
});

test('credit and close bodies', () => {
  assert.strictEqual(frames.parseCredit(Buffer.from('262144')), 262144);
  assert.strictEqual(frames.parseCredit(Buffer.from('')), -1);
  assert.strictEqual(frames.parseCredit(Buffer.from('1x')), -1);
  assert.deepStrictEqual(frames.parseClientClose(Buffer.from('1000 bye now')), { code: 1000, reason: 'bye now' });
  assert.deepStrictEqual(frames.parseClientClose(Buffer.alloc(0)), { code: 1005, reason: '' });
  assert.deepStrictEqual(frames.parseClientClose(Buffer.from('4001')), { code: 4001, reason: '' });
});
