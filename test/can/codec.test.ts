import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decode, encode, type Message } from '../../src/can/codec.js';
import { decodeSeed, encodeSeed, encodeSeedRelay, type SeedReading } from '../../src/can/seed-codec.js';
import { formatFrame, parseFrame } from '../../src/can/frame.js';

interface Vectors {
  v1: { valid: { name: string; frame: string; message: Message }[]; invalid: { name: string; frame: string; reason: string }[] };
  seed: {
    valid: { name: string; frame: string; message: SeedReading }[];
    commands: { name: string; on: boolean; frame: string }[];
    invalid: { name: string; frame: string; reason: string }[];
  };
}
const vectors: Vectors = JSON.parse(readFileSync(new URL('../../firmware/test-vectors.json', import.meta.url), 'utf8'));

for (const v of vectors.v1.valid) {
  test(`v1 decodes ${v.name}`, () => {
    const result = decode(parseFrame(v.frame));
    assert.ok(result.ok, result.ok ? '' : result.detail);
    assert.deepEqual(result.message, v.message);
  });
  test(`v1 encodes ${v.name} byte-exact`, () => {
    assert.equal(formatFrame(encode(v.message)), v.frame);
  });
}

for (const v of vectors.v1.invalid) {
  test(`v1 refuses ${v.name} as ${v.reason}`, () => {
    const result = decode(parseFrame(v.frame));
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.reason, v.reason);
      assert.ok(result.detail.length > 0);
    }
  });
}

for (const v of vectors.seed.valid) {
  test(`seed decodes ${v.name}`, () => {
    const result = decodeSeed(parseFrame(v.frame));
    assert.ok(result.ok);
    assert.deepEqual(result.message, v.message);
    assert.equal(formatFrame(encodeSeed(v.message)), v.frame);
  });
}
for (const v of vectors.seed.commands) {
  test(`seed encodes ${v.name}`, () => assert.equal(formatFrame(encodeSeedRelay(v.on)), v.frame));
}
for (const v of vectors.seed.invalid) {
  test(`seed refuses ${v.name}`, () => {
    const result = decodeSeed(parseFrame(v.frame));
    assert.equal(result.ok ? 'ok' : result.reason, v.reason);
  });
}

test('every 11-bit id and DLC decodes to a message or a reason, never throws', () => {
  let decoded = 0;
  for (let id = 0; id < 0x800; id++) {
    for (let dlc = 0; dlc <= 8; dlc++) {
      const result = decode({ id, data: Buffer.alloc(dlc, 0xa5) });
      if (result.ok) decoded++;
      else assert.match(result.detail, /\S/);
    }
  }
  assert.ok(decoded > 0);
});
