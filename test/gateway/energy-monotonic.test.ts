import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { openDatabase } from '../../src/db/database.js';
import { SqliteDeviceStore } from '../../src/db/devices.js';
import { CanBus } from '../../src/can/can-bus.js';
import { SimTransport, VirtualBus } from '../../src/can/sim-transport.js';
import { CanNodes } from '../../src/gateway/can-nodes.js';
import { EventBus } from '../../src/gateway/events.js';
import { Gateway } from '../../src/daemon/gateway.js';
import { Registry } from '../../src/gateway/registry.js';
import { silentLogger } from '../../src/log.js';
import { recordingClient, startGateway, waitFor } from '../helpers/gateway.js';

type Step = { grow: number } | { back: number } | { reset: number } | { restart: true };

test('energy total: never down, never counted twice, across counter resets, lagging reboots and gateway restarts (property)', () => {
  const step = fc.oneof(
    { arbitrary: fc.record({ grow: fc.integer({ min: 0, max: 5000 }) }), weight: 6 },
    { arbitrary: fc.record({ back: fc.integer({ min: 1, max: 300 }) }), weight: 1 },
    { arbitrary: fc.record({ reset: fc.integer({ min: 0, max: 3 }) }), weight: 1 },
    { arbitrary: fc.record({ restart: fc.constant(true as const) }), weight: 1 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.array(step, { maxLength: 40 }), (start, steps: Step[]) => {
      const db = openDatabase(':memory:');
      try {
        const open = () => {
          const events = new EventBus(silentLogger);
          const registry = new Registry({ events, store: new SqliteDeviceStore(db), log: silentLogger, heartbeatTimeoutMs: 5000 });
          registry.load();
          const nodes = new CanNodes({
            registry,
            events,
            bus: new CanBus(new SimTransport(new VirtualBus()), 'v1', silentLogger),
            log: silentLogger,
          });
          nodes.handle({ type: 'heartbeat', node: 1, state: 'running', protocol: 1, firmware: '1.0', uptime: 1 });
          return { registry, nodes };
        };
        let { registry, nodes } = open();
        const send = (wh: number) => nodes.handle({ type: 'energy', node: 1, energyWh: wh, uptime: 1 });
        let counter = start;
        let expectedWh = start; // the first value counts as it is; after that only increases count
        let previous = -Infinity;
        send(counter);
        for (const s of steps) {
          if ('restart' in s) {
            ({ registry, nodes } = open());
            assert.equal(registry.canNode(1)!.state.energy, expectedWh / 1000, 'a restarted gateway starts from the persisted total');
            continue;
          }
          const next = 'grow' in s ? counter + s.grow : 'back' in s ? Math.max(0, counter - s.back) : s.reset;
          if (next > counter) expectedWh += next - counter;
          counter = next;
          send(counter);
          const total = registry.canNode(1)!.state.energy!;
          assert.ok(total >= previous, `total went down: ${previous} -> ${total}`);
          assert.equal(total, expectedWh / 1000);
          previous = total;
        }
      } finally {
        db.close();
      }
    }),
    { numRuns: 200 },
  );
});

test('energy on a running gateway: a node counter reset and a gateway restart never lower the published kWh', async (t) => {
  // Every energy change published (no deadband): the test follows each step of the total on MQTT.
  const tg = await startGateway({ mqtt: { publish: { energy: { absolute: 0 } } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const sim = gateway.parts.sim.sockets[1];
  sim.setLoad(0); // the counter moves only when the test says so
  const device = await waitFor(
    () => gateway.parts.registry.find('socket-2')?.available && gateway.parts.registry.find('socket-2'),
    3000,
    'socket-2 online',
  );
  const mqttView = await recordingClient(gateway.mqttUrl(), ['canplug/socket-2']);
  t.after(() => mqttView.client.endAsync());
  const published: number[] = [];
  mqttView.client.on('message', (_topic, payload) => {
    const energy = JSON.parse(payload.toString()).energy;
    if (typeof energy === 'number') published.push(energy);
  });

  const reportEnergy = async (wh: number, expectedKwh: number) => {
    sim.energyWh = wh;
    await gateway.parts.commands.send(2, { op: 'reportNow' });
    await waitFor(() => device.state.energy === expectedKwh, 2000, `energy ${expectedKwh} kWh after a counter of ${wh} Wh`);
  };
  const persisted = () => {
    const db = new Database(tg.config.database.path, { readonly: true });
    try {
      const row = db.prepare("SELECT energy_offset_wh + last_energy_wh AS wh FROM devices WHERE key = 'can:2'").get() as { wh: number };
      return row.wh / 1000;
    } finally {
      db.close();
    }
  };

  await reportEnergy(5000, 5);
  // With the readings' next commit (50 ms here): a power cut loses no more of the total than of the readings.
  await waitFor(() => persisted() === 5, 2000, 'the total persisted with the next commit');
  await reportEnergy(0, 5); // flash reset on the node
  await reportEnergy(250, 5.25);
  await reportEnergy(200, 5.25); // rebooted with an older persisted counter: not counted twice
  await reportEnergy(300, 5.35);
  await waitFor(() => persisted() === 5.35, 2000, '5.35 kWh persisted');
  await waitFor(() => published.at(-1) === 5.35, 2000, 'MQTT state shows 5.35 kWh');
  await mqttView.client.endAsync();

  // Restart: the new gateway's simulated nodes start with their counters at 0, like nodes reset while it was down.
  await gateway.stop();
  const again = new Gateway({ config: tg.config, log: silentLogger });
  await again.start();
  t.after(() => again.stop());
  const before = again.parts.registry.find('socket-2');
  assert.equal(before?.state.energy, 5.35, 'the total is known before the node reports');
  const view2 = await recordingClient(again.mqttUrl(), ['canplug/socket-2']);
  t.after(() => view2.client.endAsync());
  const after: number[] = [];
  view2.client.on('message', (_topic, payload) => {
    const energy = JSON.parse(payload.toString()).energy;
    if (typeof energy === 'number') after.push(energy);
  });
  again.parts.sim.sockets[1].setLoad(0);
  let energyFrames = 0;
  const stopCounting = again.parts.events.subscribe('test', {
    reading: (r) => void (r.device.key === 'can:2' && r.energy !== undefined && energyFrames++),
  });
  t.after(stopCounting);
  await waitFor(() => energyFrames > 0, 3000, 'the first energy report after the restart (counter back at 0)');
  assert.equal(again.parts.registry.find('socket-2')?.state.energy, 5.35);
  again.parts.sim.sockets[1].energyWh = 40;
  await again.parts.commands.send(2, { op: 'reportNow' });
  await waitFor(() => again.parts.registry.find('socket-2')?.state.energy === 5.39, 2000, 'counting on from 5.35 kWh');
  await waitFor(() => after.at(-1) === 5.39, 2000, 'MQTT shows 5.39 kWh');
  for (let i = 1; i < after.length; i++) assert.ok(after[i] >= after[i - 1], `published energy went down: ${after.join(', ')}`);
  assert.ok(
    after.every((e) => e >= 5.35),
    `a published value below the last total before the restart: ${after.join(', ')}`,
  );
  for (let i = 1; i < published.length; i++)
    assert.ok(published[i] >= published[i - 1], `published energy went down: ${published.join(', ')}`);
});
