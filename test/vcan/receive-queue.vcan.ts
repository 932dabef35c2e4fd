// No frame dropped unseen: the gateway sizes its CAN socket's receive queue for one second of a full
// bus, and the frames the kernel still drops when the gateway stalls (SO_RXQ_OVFL) are counted in
// health and /metrics, exactly as many as the kernel's own filter counters say went missing.
import { after, afterEach, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { QUEUED_FRAME_BYTES } from '../../src/can/receive-queue.js';
import { IFACE, PATIENCE_MS, assertInGuest, linkCounters, resetVcan, stopAll } from './vcan-helpers.js';

const BACKLOG = '/proc/sys/net/core/netdev_max_backlog';
let savedBacklog = '';
const running: TestGateway[] = [];

before(async () => {
  assertInGuest();
  await resetVcan();
  // The device's backlog (1,000 frames by default) would drop part of a cangen burst before any socket
  // sees it; raised here so that what is measured is the socket's own queue.
  savedBacklog = readFileSync(BACKLOG, 'utf8').trim();
  writeFileSync(BACKLOG, '100000');
});
after(() => writeFileSync(BACKLOG, savedBacklog));
afterEach(async () => {
  for (const g of running.splice(0)) await g.stop();
  await stopAll();
});

async function gatewayOnVcan(bitrate: 125000 | 1000000): Promise<TestGateway> {
  const tg = await startGateway({ can: { transport: 'socketcan', interface: IFACE, bitrate } });
  running.push(tg);
  await waitFor(() => tg.gateway.parts.can.up, PATIENCE_MS, 'vcan0 up');
  return tg;
}

/** The value of a counter or gauge in the Prometheus text of GET /metrics. */
async function metric(tg: TestGateway, name: string): Promise<number> {
  const res = await tg.gateway.parts.api.inject({ url: '/metrics' });
  assert.equal(res.statusCode, 200);
  const line = res.body.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

interface Burst {
  received: number;
  devDropped: number;
}

/**
 * `frames` power frames of node 1 sent by cangen while the gateway's event loop is blocked (spawnSync
 * returns only when cangen has sent them all): the gateway reads nothing until the burst is over.
 */
async function burstWhileStalled(tg: TestGateway, frames: number): Promise<Burst> {
  const received0 = tg.gateway.parts.can.counters.received;
  const link0 = await linkCounters();
  const gen = spawnSync('cangen', [IFACE, '-g', '0', '-n', String(frames), '-I', '181', '-L', '8', '-D', 'i'], { encoding: 'utf8' });
  assert.equal(gen.status, 0, `cangen: ${gen.stderr}`);
  // Drained once the received count stops moving.
  let last = -1;
  let since = Date.now();
  await waitFor(
    () => {
      const now = tg.gateway.parts.can.counters.received;
      if (now !== last) [last, since] = [now, Date.now()];
      return Date.now() - since > 1500;
    },
    60_000,
    'the socket to drain',
  );
  const link1 = await linkCounters();
  return { received: tg.gateway.parts.can.counters.received - received0, devDropped: link1.rxDropped - link0.rxDropped };
}

test('a stalled gateway: frames dropped on the full receive queue appear in health and /metrics, each one', async (t: TestContext) => {
  const tg = await gatewayOnVcan(125000);
  const queue = (tg.gateway.health().can as { receive_queue: { bytes: number; wanted: number } }).receive_queue;
  // One second at 125 kbit/s: 1,000 frames. Root in the guest, so SO_RCVBUFFORCE is allowed.
  assert.deepEqual(queue, { bytes: 1000 * QUEUED_FRAME_BYTES, wanted: 1000 * QUEUED_FRAME_BYTES });
  assert.equal(await metric(tg, 'canplug_can_receive_queue_bytes'), queue.bytes);
  assert.equal(await metric(tg, 'canplug_can_kernel_drops_total'), 0);

  const burst = await burstWhileStalled(tg, 4000);
  const dropped = await metric(tg, 'canplug_can_kernel_drops_total');
  // The safety worker's own socket is counted apart (its thread was not stalled; a busy guest may still drop some).
  const workerDropped = await metric(tg, 'canplug_safety_worker_kernel_drops_total');
  t.diagnostic(
    `metric stalled reader: 4000 sent, ${burst.devDropped} dropped at the device, ${burst.received} received, ` +
      `${dropped} counted as kernel drops; ${Math.round(queue.bytes / burst.received)} queue bytes per frame; ` +
      `${workerDropped} dropped on the safety worker's socket`,
  );
  // The safety worker's socket gets the same frames (and reads them: its thread is not stalled), so the
  // kernel's per-filter counters mix both sockets: every frame reached this one because none was
  // dropped before any socket (the device's backlog), and each one not read was counted as dropped.
  assert.equal(burst.devDropped, 0, 'no frame lost before the sockets');
  assert.ok(burst.received < 4000, 'the queue overflowed');
  assert.equal(dropped, 4000 - burst.received, 'every frame lost in the socket queue is counted');
  assert.equal((tg.gateway.health().can as { kernel_drops: number }).kernel_drops, dropped);
  // What the queue held is what one second at 125 kbit/s was sized for, or more (frames cost less than QUEUED_FRAME_BYTES).
  assert.ok(burst.received >= 1000, `${burst.received} frames held`);
});

test('the same stall with the queue sized for 1 Mbit/s holds every frame: zero kernel drops', async (t: TestContext) => {
  const tg = await gatewayOnVcan(1000000);
  const queue = (tg.gateway.health().can as { receive_queue: { bytes: number } }).receive_queue;
  assert.equal(queue.bytes, 8000 * QUEUED_FRAME_BYTES);
  const burst = await burstWhileStalled(tg, 4000);
  const dropped = await metric(tg, 'canplug_can_kernel_drops_total');
  t.diagnostic(
    `metric sized queue: 4000 sent, ${burst.devDropped} dropped at the device, ${burst.received} received, ${dropped} kernel drops`,
  );
  assert.equal(burst.devDropped, 0);
  assert.equal(burst.received, 4000, 'every frame reached the gateway after the stall');
  assert.equal(dropped, 0);
});
