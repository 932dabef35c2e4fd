// The backup interlock no longer shares fate with the main event loop (issue 15): the safety worker
// reads the simulated bus from its own thread and opens the relay itself, even while the main thread
// is stuck in a busy loop for 10 s. The nodes run in a thread of their own, as real nodes would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeCommand } from '../../src/can/codec.js';
import { SAFETY_TOKENS } from '../../src/gateway/commands.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { startNodeThread } from '../helpers/node-thread.js';
import { percentiles, stallEventLoop } from '../helpers/stall.js';

const IDLE_NODES = Array.from({ length: 10 }, (_, i) => 11 + i);
const STALLED_NODES = Array.from({ length: 20 }, (_, i) => 31 + i);
const STALL_MS = 10_000;

/** A person switching a socket over REST. */
const switchRelay = (tg: TestGateway, name: string, on: boolean) =>
  tg.gateway.parts.api.inject({ method: 'PUT', url: `/api/devices/${name}/relay`, payload: { on }, headers: tg.auth });

test('with the main event loop stalled for 10 s, a humidity frame over the limit still puts the open command on the simulated bus within 100 ms', async (t) => {
  const tg = await startGateway({ can: { sim: { nodes: [] }, heartbeat_timeout_ms: 30_000 } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const nodes = await startNodeThread(gateway.parts.sim.bus!.name, [...IDLE_NODES, ...STALLED_NODES]);
  t.after(() => nodes.stop());
  await waitFor(
    () => [...IDLE_NODES, ...STALLED_NODES].every((n) => gateway.parts.registry.canNode(n)?.available),
    10_000,
    'every node online',
  );

  const idle = await nodes.trip(IDLE_NODES);

  // The worker's reports of the idle trips may still be on their way (the node saw the open first):
  // counted once none came for 500 ms, so that only the stalled trips count below.
  let workerTripsBefore = -1;
  let quietSince = performance.now();
  await waitFor(
    () => {
      if (gateway.parts.safety.worker.trips !== workerTripsBefore)
        [workerTripsBefore, quietSince] = [gateway.parts.safety.worker.trips, performance.now()];
      return performance.now() - quietSince >= 500;
    },
    10_000,
    'the idle trips reported',
  );

  // The trips start 500 ms into the stall, 20 ms apart, and all end well before it does.
  const stalledTrips = nodes.trip(STALLED_NODES, 500, 20);
  const stallStarted = performance.now();
  stallEventLoop(STALL_MS);
  const stalledFor = performance.now() - stallStarted;
  const stalled = await stalledTrips;

  assert.ok(stalledFor >= STALL_MS, 'the main loop was stalled');
  // Idle, the main thread's own open may win the race; stalled, only the worker can send one.
  for (const trip of stalled) {
    assert.ok(trip.token >= SAFETY_TOKENS.first, `node ${trip.node}: the open came from the safety worker (token ${trip.token})`);
  }
  const slow = stalled.filter((trip) => trip.ms >= 100);
  assert.deepEqual(slow, [], 'every open reached its node within 100 ms of the humid frame, main loop stalled');

  // Once the main thread runs again it has the whole story: latched, logged, closes refused.
  const device = gateway.parts.registry.canNode(STALLED_NODES[0])!;
  await waitFor(() => device.state.gatewayLatch, 5000, 'the main thread caught up with the trip');
  const close = await switchRelay(tg, device.name, true);
  assert.equal(close.statusCode, 409, close.body);
  // Idle, the main thread may trip first and hand the latch over; stalled, every trip is the worker's.
  await waitFor(
    () => gateway.parts.safety.worker.trips - workerTripsBefore === STALLED_NODES.length,
    5000,
    'the worker reported every stalled trip',
  );

  const a = percentiles(idle.map((x) => x.ms));
  const b = percentiles(stalled.map((x) => x.ms));
  t.diagnostic(`metric trip latency, main loop idle: p50 ${a.p50} ms, p99 ${a.p99} ms, max ${a.max} ms (${a.n} trips)`);
  t.diagnostic(`metric trip latency, main loop stalled 10 s: p50 ${b.p50} ms, p99 ${b.p99} ms, max ${b.max} ms (${b.n} trips)`);
});

test('a close command for a latched socket, from any sender on the bus, is answered with an open by the safety worker', async (t) => {
  const tg = await startGateway({ can: { sim: { nodes: [1], report_period_ms: 100 } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-1')?.available, 4000, 'socket-1 online');
  const node = gateway.parts.sim.sockets[0];
  node.interlockEnabled = false;
  node.setHumidity(90);
  node.reportNow();
  await waitFor(() => !node.relay && gateway.parts.registry.find('socket-1')?.state.gatewayLatch, 3000, 'tripped and open');

  // A rogue sender (`cansend`, another gateway, a bug) closes it behind the gateway's back.
  const rogue = gateway.parts.sim.bus!.attach(() => {});
  t.after(() => rogue.detach());
  const opens: number[] = [];
  node.onCommand = (command) => {
    if (command.op === 'setRelay' && command.action === 'open') opens.push(performance.now());
  };
  const closedAt = performance.now();
  rogue.send(encodeCommand(1, 7, { op: 'setRelay', action: 'close' }));
  await waitFor(() => opens.length > 0 && !node.relay, 2000, 'opened again');
  assert.ok(opens[0] - closedAt < 100, `the open followed the rogue close after ${(opens[0] - closedAt).toFixed(1)} ms`);
});

test('a safety worker that exits is started again with the latches the main thread holds; closes are refused while it is away', async (t) => {
  const tg = await startGateway({ can: { sim: { nodes: [1, 2], report_period_ms: 100 } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-2')?.available, 4000, 'sockets online');
  const [node1, node2] = gateway.parts.sim.sockets;
  node1.interlockEnabled = false;
  node1.setHumidity(90);
  node1.reportNow();
  await waitFor(() => !node1.relay && gateway.parts.registry.find('socket-1')?.state.gatewayLatch, 3000, 'socket-1 tripped');
  // Under the limit now, still over the re-arm level: only the restored latch keeps it open from here.
  node1.setHumidity(75);
  await waitFor(() => gateway.parts.registry.find('socket-1')?.state.humidity === 75, 2000, 'humidity 75 seen');
  const off = await switchRelay(tg, 'socket-2', false);
  assert.equal(off.statusCode, 200, off.body);

  const worker = gateway.parts.safety.worker;
  await worker.crashForTest();
  await waitFor(() => worker.state === 'restarting', 1000, 'the exit noticed');
  const meanwhile = await switchRelay(tg, 'socket-2', true);
  assert.equal(meanwhile.statusCode, 409, 'no close while the worker is away');
  assert.match(meanwhile.json().error, /safety worker is restarting/);
  assert.equal(gateway.health().status, 'degraded');

  await waitFor(() => worker.state === 'running', 30_000, 'the worker started again');
  assert.equal(worker.restarts, 1);
  // The new worker holds socket-1's latch: a close from another sender on the bus is answered with an open.
  const rogue = gateway.parts.sim.bus!.attach(() => {});
  t.after(() => rogue.detach());
  const openTokens: number[] = [];
  node1.onCommand = (command) => {
    const last = node1.received[node1.received.length - 1];
    if (command.op === 'setRelay' && command.action === 'open' && last.type === 'command') openTokens.push(last.token);
  };
  rogue.send(encodeCommand(1, 9, { op: 'setRelay', action: 'close' }));
  await waitFor(() => openTokens.some((token) => token >= SAFETY_TOKENS.first), 2000, 'an open from the new worker');
  await waitFor(() => !node1.relay, 2000, 'socket-1 open again');
  const on = await switchRelay(tg, 'socket-2', true);
  assert.equal(on.statusCode, 200, on.body);
  assert.equal(node2.relay, true);
});

test('a safety worker whose event loop is stuck is ended by the watchdog within seconds and started again; the main thread still trips meanwhile', async (t) => {
  const tg = await startGateway({ can: { sim: { nodes: [1, 2], report_period_ms: 100 } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-2')?.available, 4000, 'sockets online');
  const off = await switchRelay(tg, 'socket-2', false);
  assert.equal(off.statusCode, 200, off.body);
  const worker = gateway.parts.safety.worker;
  const hungAt = performance.now();
  worker.hangForTest(60_000);

  // Stuck, it answers nothing: a close is refused after the answer time, not let through.
  const close = await switchRelay(tg, 'socket-2', true);
  assert.equal(close.statusCode, 409, close.body);
  assert.match(close.json().error, /did not answer/);
  // The main thread is the layer left: a reading over the limit still opens the relay.
  const [node1] = gateway.parts.sim.sockets;
  node1.interlockEnabled = false;
  node1.setHumidity(90);
  node1.reportNow();
  await waitFor(
    () => !node1.relay && gateway.parts.registry.find('socket-1')?.state.gatewayLatch,
    3000,
    'socket-1 tripped by the main thread',
  );

  await waitFor(() => worker.hangs === 1, 15_000, 'the watchdog ending the stuck worker');
  const endedAfter = performance.now() - hungAt;
  assert.ok(endedAfter > 4000 && endedAfter < 12_000, `ended ${Math.round(endedAfter)} ms after it got stuck`);
  await waitFor(() => worker.restarts === 1 && worker.state === 'running', 30_000, 'the worker started again');
  const health = gateway.health();
  assert.equal(health.safety.worker_hangs, 1);
  // The new worker answers again, and holds the latch the main thread set while it was stuck.
  const on2 = await switchRelay(tg, 'socket-2', true);
  assert.equal(on2.statusCode, 200, on2.body);
  const on1 = await switchRelay(tg, 'socket-1', true);
  assert.equal(on1.statusCode, 409, on1.body);
});

test("a person's reset right after the dry reading is answered on that reading, even when the worker has not handled it yet", async (t) => {
  // Reports only when asked: the frames in this test are the ones it sends.
  const tg = await startGateway({ can: { sim: { nodes: [1], report_period_ms: 60_000 } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const [node] = gateway.parts.sim.sockets;
  node.interlockEnabled = false;
  await waitFor(() => gateway.parts.registry.find('socket-1')?.available, 4000, 'socket-1 online');
  node.setHumidity(90);
  node.reportNow();
  const device = gateway.parts.registry.find('socket-1')!;
  await waitFor(() => device.state.gatewayLatch, 3000, 'socket-1 tripped');

  // The worker is busy (a slow turn) while the dry frame arrives: the main thread sees it first.
  const worker = gateway.parts.safety.worker;
  worker.hangForTest(400);
  await new Promise((r) => setTimeout(r, 50));
  node.setHumidity(55);
  node.reportNow();
  await waitFor(() => device.state.humidity === 55, 2000, 'the main thread saw 55 %RH');
  const reset = await gateway.parts.api.inject({ method: 'POST', url: '/api/devices/socket-1/reset', headers: tg.auth });
  assert.equal(reset.statusCode, 200, reset.body);
  assert.equal(device.state.gatewayLatch, undefined);
});
