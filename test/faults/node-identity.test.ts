// Two nodes claiming one node id, and a node whose heartbeat flaps: detected, reported once, never
// merged into a made-up device, never a storm of availability changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimSocket } from '../../src/can/sim-socket.js';
import type { Gateway } from '../../src/daemon/gateway.js';
import { recordingClient, startGateway, waitFor } from '../helpers/gateway.js';
import { recordFigure } from '../helpers/figures.js';
import { recordGateway, sleep, storedReadings } from '../helpers/faults.js';

/** A simulated node on the gateway's virtual bus, stopped when the test ends. */
function addNode(t: { after: (fn: () => void) => void }, gateway: Gateway, options: ConstructorParameters<typeof SimSocket>[0]): SimSocket {
  const node = new SimSocket(options);
  const link = gateway.parts.sim.bus!.attach((frame) => node.receive(frame));
  node.start(link.send);
  t.after(() => {
    node.stop();
    link.detach();
  });
  return node;
}

test('two nodes with node id 1: detected within seconds, reported, offline with the reason, closes refused, nothing merged', async (t) => {
  // Every reading stored as a raw row: the test counts them per device around the conflict.
  const tg = await startGateway({ can: { sim: { nodes: [1, 2] } }, database: { store: { every_reading: true } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const original = gateway.parts.sim.sockets[0];
  original.energyWh = 12_000;
  await waitFor(() => gateway.parts.registry.find('socket-1')?.state.energy === 12, 5000, 'socket-1 energy 12 kWh');
  const mqtt = await recordingClient(gateway.mqttUrl(), ['canplug/#']);
  t.after(() => mqtt.client.endAsync());
  const seen = recordGateway(gateway);
  t.after(seen.stop);
  const published = () => mqtt.log.filter((m) => m.topic === 'canplug/socket-1').map((m) => JSON.parse(m.payload) as { energy?: number });

  // A second socket configured as node 1 joins the bus: its counter reads 50 Wh, its readings differ.
  const joinedAt = performance.now();
  const impostor = addNode(t, gateway, { node: 1, reportPeriodMs: 200, energyWh: 50, humidity: 60, loadWatts: 5 });
  const alarm = await waitFor(
    () => seen.log.find((e) => e.type === 'alarm' && /two nodes answer to node id 1/.test(e.cause ?? '')),
    8000,
    'the conflict alarm',
  );
  const detectedMs = performance.now() - joinedAt;
  const conflictAt = Date.now();
  t.diagnostic(`conflict detected ${detectedMs.toFixed(0)} ms after the second node joined: ${alarm.cause}`);

  const health = gateway.health();
  assert.deepEqual((health.devices as { conflicts: string[] }).conflicts, ['socket-1']);
  await waitFor(() => mqtt.messages.get('canplug/socket-1/availability') === 'offline', 3000, 'socket-1 offline on MQTT');
  const availability = seen.log.find((e) => e.type === 'availability' && e.device?.name === 'socket-1');
  assert.equal(availability?.cause, 'two nodes share the node id');
  const view = (await gateway.parts.api.inject({ url: '/api/devices/socket-1' })).json();
  assert.ok(
    view.problems.some((p: string) => /two nodes answer to node id 1/.test(p)),
    'REST shows why',
  );

  // A close would reach both sockets: refused with the reason. An open is allowed (both open: safe).
  const close = await gateway.parts.api.inject({
    method: 'PUT',
    url: '/api/devices/socket-1/relay',
    payload: { on: true },
    headers: tg.auth,
  });
  assert.equal(close.statusCode, 409);
  assert.match(close.json().error, /two nodes answer to node id 1.*closing is refused until one of them gets another node id/);
  await mqtt.client.publishAsync('canplug/socket-1/set', 'ON');
  await waitFor(() => seen.log.some((e) => e.type === 'refusal' && e.origin === 'mqtt'), 3000, 'MQTT close refused too');

  // Nothing from node id 1 is applied or stored any more; the other socket carries on.
  const energyNow = gateway.parts.registry.find('socket-1')!.state.energy;
  await sleep(1500);
  gateway.parts.writer.flush();
  const path = tg.config.database.path;
  assert.equal(
    storedReadings(path, "device_id = (SELECT id FROM devices WHERE name = 'socket-1') AND ts > ?", conflictAt + 50),
    0,
    'no socket-1 reading stored since',
  );
  assert.ok(
    storedReadings(path, "device_id = (SELECT id FROM devices WHERE name = 'socket-2') AND ts > ?", conflictAt + 50) > 3,
    'socket-2 still stored',
  );
  assert.ok((gateway.health().can as { frames_quarantined: number }).frames_quarantined > 5);
  // The energy total never took the other node's counter as a reset of this one: it is 12 kWh as before.
  assert.equal(gateway.parts.registry.find('socket-1')!.state.energy, energyNow);
  assert.ok(Math.abs(energyNow! - 12) < 0.05, `energy ${energyNow} kWh`);
  t.diagnostic(`energy published for socket-1: ${[...new Set(published().map((p) => p.energy))].join(', ')} kWh`);
  const finalState = published().at(-1);
  assert.ok(finalState?.energy === undefined || Math.abs(finalState.energy - 12) < 0.05, `published ${finalState?.energy}`);

  // The gateway's safety rule still watches: the second node over the humidity limit opens node id 1 (both).
  impostor.interlockEnabled = false;
  impostor.setHumidity(90);
  await waitFor(
    () => seen.log.some((e) => e.type === 'trip' && e.origin === 'gateway' && e.device?.name === 'socket-1'),
    3000,
    'gateway trip from a quarantined reading',
  );
  await waitFor(() => !impostor.relay && !original.relay, 3000, 'both relays open');
  recordFigure({
    kind: 'fault',
    name: 'two nodes claim node id 1',
    survived: `detected in ${(detectedMs / 1000).toFixed(1)} s; reported; closes refused; 0 readings merged`,
    lost: 0,
  });
});

test('a flapping node: a few availability changes, one alarm, then it must hold its heartbeat before it is online again', async (t) => {
  const timeoutMs = 500;
  const tg = await startGateway({ can: { sim: { nodes: [] }, heartbeat_timeout_ms: timeoutMs } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const node = addNode(t, gateway, { node: 5, reportPeriodMs: 200, heartbeatPeriodMs: 100 });
  await waitFor(() => gateway.parts.registry.find('socket-5')?.available, 3000, 'socket-5 online');
  const mqtt = await recordingClient(gateway.mqttUrl(), ['canplug/socket-5/availability']);
  t.after(() => mqtt.client.endAsync());
  const seen = recordGateway(gateway);
  t.after(seen.stop);

  // Ten cycles: silent past the timeout, then a short burst of heartbeats.
  const CYCLES = 10;
  let lastBurstAt = 0;
  for (let i = 0; i < CYCLES; i++) {
    node.silent = true;
    await sleep(timeoutMs + 500);
    node.silent = false;
    lastBurstAt = performance.now();
    await sleep(400);
  }
  const changes = seen.log.filter((e) => e.type === 'availability').length;
  const alarms = seen.log.filter((e) => e.type === 'alarm' && /availability flapping/.test(e.cause ?? ''));
  assert.equal(alarms.length, 1, 'one flapping alarm, not one per drop');
  assert.ok(changes <= 6, `${changes} availability changes for ${CYCLES} flaps (undamped: ${2 * CYCLES})`);
  assert.deepEqual((gateway.health().devices as { flapping: string[] }).flapping, ['socket-5']);
  assert.equal(gateway.parts.registry.find('socket-5')!.available, false, 'held offline while it flaps');

  // Steady from the last burst on: online after four timeouts of steady heartbeats.
  await waitFor(() => gateway.parts.registry.find('socket-5')!.available, 4 * timeoutMs + 3000, 'socket-5 back');
  const backMs = performance.now() - lastBurstAt;
  assert.ok(backMs >= 4 * timeoutMs - 150, `back after ${backMs.toFixed(0)} ms, not before the hold`);
  await waitFor(() => mqtt.messages.get('canplug/socket-5/availability') === 'online', 2000, 'online on MQTT');
  const mqttChanges = mqtt.log.filter((m) => !m.retain).length;
  assert.ok(mqttChanges <= 7, `${mqttChanges} availability messages on MQTT`);
  recordFigure({
    kind: 'fault',
    name: 'a node flapping (10 heartbeat losses in 13 s)',
    survived: `${changes + 1} availability changes instead of ${2 * CYCLES + 1}, 1 alarm`,
    lost: 0,
  });
});
