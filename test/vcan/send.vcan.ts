// Frames the transport sends, as an independent observer (candump -L) sees them on the bus.
import { afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeCommand, type Command } from '../../src/can/codec.js';
import { encodeSeedRelay } from '../../src/can/seed-codec.js';
import { formatFrame, type CanFrame } from '../../src/can/frame.js';
import { V1_NODE_TO_GATEWAY_FILTERS } from '../../src/can/filters.js';
import {
  IFACE,
  assertInGuest,
  openTransport,
  resetVcan,
  sh,
  startCandump,
  stopAll,
  waitForEvent,
  waitUntil,
  PATIENCE_MS,
} from './vcan-helpers.js';

before(async () => {
  assertInGuest();
  await resetVcan();
});
afterEach(async () => {
  await stopAll();
  await sh('tc', 'qdisc', 'del', 'dev', IFACE, 'root').catch(() => undefined);
  await resetVcan();
});

test('commands sent through the transport appear on the bus byte-exact (candump -L)', async () => {
  const commands: [number, Command][] = [
    [1, { op: 'setRelay', action: 'close' }],
    [63, { op: 'setRelay', action: 'open' }],
    [5, { op: 'setHumidityLimit', limit: 75, hysteresis: 5 }],
    [2, { op: 'setReportPeriod', ms: 1000 }],
    [9, { op: 'setPowerLimit', watts: 2000 }],
    [1, { op: 'reportNow' }],
  ];
  const frames: CanFrame[] = [
    ...commands.map(([node, command], token) => encodeCommand(node, token + 1, command)),
    encodeSeedRelay(true),
    encodeSeedRelay(false),
    { id: 0x000, data: Buffer.from([0x01, 0x00]) },
    { id: 0x7ff, data: Buffer.alloc(0) },
  ];
  const dump = await startCandump('-L');
  const transport = await openTransport({ filters: V1_NODE_TO_GATEWAY_FILTERS });
  const echoed: CanFrame[] = [];
  transport.on('frame', (f) => echoed.push(f));
  for (const frame of frames) assert.equal(transport.send(frame), true);
  const lines = await dump.stop();
  // candump -L: "(1700000000.123456) vcan0 201#0101000000000000"
  const seen = lines.map((line) => {
    const m = /^\(\d+\.\d+\) (\S+) (\S+)$/.exec(line);
    assert.ok(m, `candump -L line "${line}"`);
    assert.equal(m[1], IFACE);
    return m[2];
  });
  assert.deepEqual(seen, frames.map(formatFrame));
  assert.equal(transport.stats().sent, frames.length);
  assert.deepEqual(echoed, [], 'the transport does not receive its own frames');
});

test('send while the interface is down returns false and counts the frame as dropped, without throwing', async () => {
  const transport = await openTransport({ filters: V1_NODE_TO_GATEWAY_FILTERS });
  const down = waitForEvent(transport, 'down', PATIENCE_MS);
  await sh('ip', 'link', 'set', 'down', IFACE);
  await down;
  const frame = encodeCommand(1, 1, { op: 'setRelay', action: 'close' });
  for (let i = 0; i < 1000; i++) assert.equal(transport.send(frame), false);
  assert.equal(transport.stats().dropped, 1000);
  assert.equal(transport.stats().sent, 0);
  assert.equal(transport.stats().queued, 0, 'nothing piles up while down');
  const up = waitForEvent(transport, 'up', PATIENCE_MS);
  await sh('ip', 'link', 'set', 'up', IFACE);
  await up;
  const dump = await startCandump('-L');
  assert.equal(transport.send(frame), true);
  const lines = await dump.stop();
  assert.deepEqual(
    lines.map((l) => l.split(' ')[2]),
    [formatFrame(frame)],
    'only the frame sent after up reaches the bus',
  );
  assert.equal(transport.stats().sent, 1);
});

test('send refuses frames that are not classic CAN instead of writing garbage', async () => {
  const transport = await openTransport({ filters: V1_NODE_TO_GATEWAY_FILTERS });
  assert.throws(() => transport.send({ id: 0x800, data: Buffer.alloc(8) }), /0x800/);
  assert.throws(() => transport.send({ id: 0x201, data: Buffer.alloc(9) }), /9 bytes/);
  assert.equal(transport.stats().sent, 0);
});

test('a slow bus (device queue full, ENOBUFS): frames wait in the bounded queue in order, the overflow is counted', async (t) => {
  const transport = await openTransport({ filters: V1_NODE_TO_GATEWAY_FILTERS, maxQueue: 64 });
  // 16 kbit/s = 125 frames/s of 16-byte CAN skbs, and room for 10 of them in the qdisc: a bus far slower than the sender.
  await sh('tc', 'qdisc', 'add', 'dev', IFACE, 'root', 'tbf', 'rate', '16kbit', 'burst', '160', 'limit', '160');
  const dump = await startCandump('-L');
  const frames = Array.from({ length: 500 }, (_, i) => {
    const data = Buffer.alloc(8);
    data.writeUInt32LE(i, 4);
    return { id: 0x205, data };
  });
  const t0 = performance.now();
  const accepted = frames.filter((f) => transport.send(f));
  const loopMs = performance.now() - t0;
  const queuedAfterLoop = transport.stats().queued;
  await waitUntil('the bounded queue to drain into the slow device', () => transport.stats().queued === 0, 10_000);
  const lines = await dump.stop();
  const stats = transport.stats();
  t.diagnostic(
    `metric throttled send: 500 frames in ${loopMs.toFixed(1)} ms, accepted ${accepted.length}, queued ${queuedAfterLoop}, dropped ${stats.dropped}`,
  );
  assert.ok(loopMs < 1000, `send() did not block (${loopMs.toFixed(1)} ms for 500 frames)`);
  assert.equal(queuedAfterLoop, 64, 'the queue filled up to its bound and no further');
  assert.equal(stats.dropped, 500 - accepted.length, 'every refused frame is counted');
  assert.equal(stats.sent, accepted.length, 'every accepted frame went out');
  assert.deepEqual(
    lines.map((l) => l.split(' ')[2]),
    accepted.map(formatFrame),
    'on the bus in order, no duplicates',
  );
});
