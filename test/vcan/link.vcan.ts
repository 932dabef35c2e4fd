// The interface goes down, comes back, is deleted and re-created: the transport rides it out in-process.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { formatFrame, type CanFrame } from '../../src/can/frame.js';
import { V1_NODE_TO_GATEWAY_FILTERS } from '../../src/can/filters.js';
import type { SocketCanTransport } from '../../src/can/socketcan-transport.js';
import {
  IFACE,
  assertInGuest,
  cansend,
  kernelFilterMatches,
  openTransport,
  resetVcan,
  sh,
  stopAll,
  waitForEvent,
  waitUntil,
  PATIENCE_MS,
} from './vcan-helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

before(async () => {
  assertInGuest();
  await resetVcan();
});
afterEach(async () => {
  await stopAll();
  await resetVcan();
  await sh('ip', 'link', 'del', 'vcan1').catch(() => undefined);
});
after(resetVcan);

function record(transport: SocketCanTransport) {
  const events: string[] = [];
  const frames: CanFrame[] = [];
  transport.on('up', () => events.push('up'));
  transport.on('down', (reason) => events.push(`down: ${reason}`));
  transport.on('frame', (f) => frames.push(f));
  return { events, frames };
}

async function expectFrameFlows(frames: CanFrame[], frame: string) {
  await cansend(frame);
  await waitUntil(`${frame} through the transport`, () => frames.some((f) => formatFrame(f) === frame), PATIENCE_MS);
}

test('ip link set down / up: down with a reason, then up again, and frames flow again', async (t) => {
  const transport = await openTransport({ filters: V1_NODE_TO_GATEWAY_FILTERS });
  const { events, frames } = record(transport);
  await expectFrameFlows(frames, '181#FD080802AC040107');

  const down = waitForEvent<[string]>(transport, 'down', PATIENCE_MS);
  await sh('ip', 'link', 'set', 'down', IFACE);
  const [reason] = await down;
  assert.match(reason, /vcan0 went down/);
  assert.equal(transport.stats().up, false);
  assert.equal(transport.stats().downReason, reason);
  // Several reconnect attempts fail meanwhile; they must not repeat the down event.
  await new Promise((r) => setTimeout(r, 1500));

  const up = waitForEvent(transport, 'up', PATIENCE_MS);
  const t0 = Date.now();
  await sh('ip', 'link', 'set', 'up', IFACE);
  await up;
  t.diagnostic(`metric link up->transport up ${Date.now() - t0} ms`);
  await expectFrameFlows(frames, '182#FD080802AC040108');
  assert.deepEqual(events, [`down: ${reason}`, 'up']);
  assert.equal(transport.stats().reconnects, 1);
  // The socket from before the outage must not keep its filters (and a receive queue) alive in the kernel.
  assert.equal(kernelFilterMatches().entries, V1_NODE_TO_GATEWAY_FILTERS.length);
});

test('ip link del / add: the transport notices the removal and binds to the re-created interface', async (t) => {
  const transport = await openTransport({ filters: V1_NODE_TO_GATEWAY_FILTERS });
  const { events, frames } = record(transport);
  await expectFrameFlows(frames, '281#C401D500500A01FF');

  const down = waitForEvent<[string]>(transport, 'down', PATIENCE_MS);
  await sh('ip', 'link', 'del', IFACE);
  const [reason] = await down;
  assert.match(reason, /vcan0 was removed/);
  // Long enough for the back-off to reach its cap.
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal(transport.stats().up, false);

  const up = waitForEvent(transport, 'up', PATIENCE_MS);
  const t0 = Date.now();
  await sh('ip', 'link', 'add', 'dev', IFACE, 'type', 'vcan');
  await sh('ip', 'link', 'set', 'up', IFACE);
  await up;
  t.diagnostic(`metric link re-created->transport up ${Date.now() - t0} ms (back-off at its cap)`);
  await expectFrameFlows(frames, '282#C401D500500A01FF');
  assert.deepEqual(events, [`down: ${reason}`, 'up']);
  assert.equal(kernelFilterMatches().entries, V1_NODE_TO_GATEWAY_FILTERS.length);
});

test('starting before the interface exists: down with the reason, up once it appears', async () => {
  let rec: ReturnType<typeof record> | undefined;
  const transport = await openTransport(
    { interface: 'vcan1', filters: V1_NODE_TO_GATEWAY_FILTERS },
    { waitUp: false, onCreate: (tr) => (rec = record(tr)) },
  );
  assert.equal(transport.stats().up, false);
  assert.deepEqual(rec!.events, ['down: interface vcan1 does not exist']);
  const up = waitForEvent(transport, 'up', PATIENCE_MS);
  await sh('ip', 'link', 'add', 'dev', 'vcan1', 'type', 'vcan');
  await sh('ip', 'link', 'set', 'up', 'vcan1');
  await up;
  await cansend('183#FD080802AC040107', 'vcan1');
  await waitUntil('a frame on vcan1', () => rec!.frames.length === 1, PATIENCE_MS);
  assert.deepEqual(rec!.events, ['down: interface vcan1 does not exist', 'up']);
  assert.equal(transport.stats().reconnects, 0, 'the first up is not a reconnect');
});

test('twenty quick down/up flaps end up, with as many up as down events and no piled-up sockets', async (t) => {
  const transport = await openTransport({ filters: V1_NODE_TO_GATEWAY_FILTERS });
  const { events, frames } = record(transport);
  const fdsBefore = readdirSync('/proc/self/fd').length;
  for (let i = 0; i < 20; i++) {
    await sh('ip', 'link', 'set', 'down', IFACE);
    await sh('ip', 'link', 'set', 'up', IFACE);
    // Vary the gap so some flaps land while the transport is up and some while it is reconnecting.
    await new Promise((r) => setTimeout(r, (i % 4) * 150));
  }
  await waitUntil('transport up after the flaps', () => transport.stats().up, PATIENCE_MS);
  await expectFrameFlows(frames, '701#0101020164000000');
  const downs = events.filter((e) => e.startsWith('down')).length;
  const ups = events.filter((e) => e === 'up').length;
  assert.ok(downs >= 1, 'at least one flap was seen');
  assert.equal(ups, downs, events.join(' | '));
  const fdsAfter = readdirSync('/proc/self/fd').length;
  // The addon closes a socket only when GC collects its channel: after a GC at most the last one is left.
  gc();
  await new Promise((r) => setTimeout(r, 100));
  const fdsAfterGc = readdirSync('/proc/self/fd').length;
  t.diagnostic(`metric flaps: ${downs} down/up seen of 20, fds ${fdsBefore} -> ${fdsAfter}, ${fdsAfterGc} after a GC`);
  assert.equal(kernelFilterMatches().entries, V1_NODE_TO_GATEWAY_FILTERS.length, 'only the live socket has filters');
  assert.ok(fdsAfterGc - fdsBefore <= 2, `old sockets are closed once collected (${fdsBefore} -> ${fdsAfterGc})`);
});
