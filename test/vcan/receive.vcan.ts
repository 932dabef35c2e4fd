// Frames from an independent peer (can-utils' cansend) through the kernel into the transport.
import { afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decode, type Message } from '../../src/can/codec.js';
import { decodeSeed, type SeedReading } from '../../src/can/seed-codec.js';
import { formatFrame, parseFrame, type CanFrame } from '../../src/can/frame.js';
import { SEED_FILTERS, V1_NODE_TO_GATEWAY_FILTERS, matchesFilters } from '../../src/can/filters.js';
import { assertInGuest, cansend, kernelFilterMatches, openTransport, resetVcan, stopAll, waitUntil, PATIENCE_MS } from './vcan-helpers.js';

interface Vector {
  name: string;
  frame: string;
  message?: Message | SeedReading;
  reason?: string;
}
const vectors = JSON.parse(readFileSync(new URL('../../firmware/test-vectors.json', import.meta.url), 'utf8')) as {
  v1: { valid: Vector[]; invalid: Vector[] };
  seed: { valid: Vector[]; invalid: Vector[] };
};

before(async () => {
  assertInGuest();
  await resetVcan();
});
afterEach(stopAll);

/** Sends every frame with cansend, then a sentinel the filters pass; returns what the transport emitted before it. */
async function sendThrough(frames: string[], sentinel: string, filters = V1_NODE_TO_GATEWAY_FILTERS) {
  const transport = await openTransport({ filters });
  const got: CanFrame[] = [];
  transport.on('frame', (f) => got.push(f));
  for (const frame of frames) await cansend(frame);
  await cansend(sentinel);
  // vcan delivers in order: once the sentinel is here, everything sent before it has arrived or never will.
  await waitUntil(`sentinel ${sentinel}`, () => got.some((f) => formatFrame(f) === sentinel), PATIENCE_MS);
  return { transport, got: got.slice(0, -1) };
}

test('protocol v1 frames from cansend arrive through the kernel and decode to the right messages', async () => {
  const all = [...vectors.v1.valid, ...vectors.v1.invalid];
  const { got } = await sendThrough(
    all.map((v) => v.frame),
    '73F#0101020164000000',
  );
  // What the gateway must see: node -> gateway ids of nodes 1..63 (11-bit data frames), valid or malformed.
  const expected = all.filter((v) => {
    const f = parseFrame(v.frame);
    return !f.ext && !f.rtr && matchesFilters(f.id, V1_NODE_TO_GATEWAY_FILTERS);
  });
  assert.ok(expected.length >= 15, `the vectors cover the node -> gateway frames (${expected.length})`);
  assert.deepEqual(
    got.map(formatFrame),
    expected.map((v) => v.frame),
    'exactly the node -> gateway frames, in bus order',
  );
  for (const [i, v] of expected.entries()) {
    const result = decode(got[i]);
    if (v.message) assert.deepEqual(result, { ok: true, message: v.message }, v.name);
    else assert.equal(result.ok ? 'ok' : result.reason, v.reason, v.name);
  }
});

test('legacy seed frames from cansend arrive and decode to voltage, current, power and humidity', async () => {
  const { got } = await sendThrough(
    [...vectors.seed.valid, ...vectors.seed.invalid].map((v) => v.frame).concat(['005#0000000000000000', '181#FD080802AC040107']),
    '004#0000000000000029',
    SEED_FILTERS,
  );
  const readings = got
    .map((f) => decodeSeed(f))
    .filter((r) => r.ok)
    .map((r) => r.ok && r.message);
  assert.deepEqual(
    readings,
    vectors.seed.valid.map((v) => v.message),
  );
  assert.ok(
    got.every((f) => f.id >= 1 && f.id <= 4),
    `only ids 0x001-0x004 reach a seed gateway, got ${got.map(formatFrame)}`,
  );
});

test('kernel filters keep other ids away from the process entirely', async () => {
  const others = [
    '123#00',
    '601#4000100000000000',
    '180#FD080802AC040107',
    '740#0101020100000000',
    '201#0101000000000000',
    '000#0100',
    '00000181#FD080802AC040107',
    '181#R',
    '7C0#FFFFFFFFFFFFFFFF',
    '001#0000000000000000',
  ];
  const before = kernelFilterMatches();
  const { transport, got } = await sendThrough([...others, '181#FD080802AC040107', ...others], '701#0101020164000000');
  assert.deepEqual(got.map(formatFrame), ['181#FD080802AC040107']);
  // stats count every frame the socket handed over: 2 (the frame and the sentinel), not 22.
  assert.equal(transport.stats().received, 2);
  const after = kernelFilterMatches();
  assert.equal(after.entries - before.entries, V1_NODE_TO_GATEWAY_FILTERS.length, 'one kernel filter per id/mask pair');
  assert.equal(after.matches - before.matches, 2, 'the kernel passed exactly two frames to the filters');
});

test('without filters the same traffic does reach the process (the filter test can fail)', async () => {
  const transport = await openTransport();
  const got: CanFrame[] = [];
  transport.on('frame', (f) => got.push(f));
  for (const frame of ['123#00', '601#4000100000000000', '00000181#FD080802AC040107']) await cansend(frame);
  await waitUntil('three unfiltered frames', () => got.length === 3, PATIENCE_MS);
  assert.deepEqual(got.map(formatFrame), ['123#00', '601#4000100000000000', '00000181#FD080802AC040107']);
});

test('error frames are counted as bus errors with their kind, not delivered as frames', async () => {
  const transport = await openTransport({ filters: V1_NODE_TO_GATEWAY_FILTERS });
  const kinds: string[] = [];
  const frames: CanFrame[] = [];
  transport.on('busError', (k) => kinds.push(k));
  transport.on('frame', (f) => frames.push(f));
  // cansend turns an 8-digit id with CAN_ERR_FLAG (0x20000000) into an error frame, as a controller would send.
  await cansend('20000040#0000000000000000'); // bus-off
  await cansend('20000004#0001000000000000'); // controller problem: rx buffer overflow
  await cansend('20000004#0020000000000000'); // controller problem: tx error-passive
  await waitUntil('three bus errors', () => kinds.length === 3, PATIENCE_MS);
  assert.deepEqual(kinds, ['bus-off', 'controller:rx-overflow', 'controller:tx-passive']);
  assert.equal(transport.stats().busErrors, 3);
  assert.equal(transport.stats().received, 0);
  assert.deepEqual(frames, []);
});
