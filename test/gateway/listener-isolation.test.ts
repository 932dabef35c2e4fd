import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordingClient, startGateway, waitFor } from '../helpers/gateway.js';

test('a sink that throws on every reading and change keeps neither MQTT, storage nor the frame path from the readings', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  const device = await waitFor(
    () => gateway.parts.registry.find('socket-1')?.available && gateway.parts.registry.find('socket-1'),
    3000,
    'socket-1 online',
  );
  const mqtt = await recordingClient(gateway.mqttUrl(), ['canplug/socket-1']);
  t.after(() => mqtt.client.endAsync());
  // A feature with a bug, subscribed like any other.
  const stop = gateway.parts.events.subscribe('broken-sink', {
    reading: () => {
      throw new Error('broken sink: reading');
    },
    'device.changed': () => {
      throw new Error('broken sink: device.changed');
    },
  });
  t.after(stop);
  const notAppliedBefore = gateway.health().can.frames_not_applied;
  const writtenBefore = gateway.parts.writer.health().readingsWritten;

  gateway.parts.sim.sockets[0].setLoad(1500);
  const published = await waitFor(
    () => {
      const state = mqtt.messages.get('canplug/socket-1');
      return state !== undefined && (JSON.parse(state) as { power?: number }).power! > 1000 && state;
    },
    3000,
    'the new power on MQTT',
  );
  assert.ok(JSON.parse(published).power > 1000);
  assert.ok(device.state.power! > 1000);
  await waitFor(() => gateway.parts.writer.health().readingsWritten > writtenBefore + 5, 3000, 'readings still stored');
  assert.equal(gateway.health().can.frames_not_applied, notAppliedBefore, 'every frame was applied: the failure stayed in its listener');
  const metrics = (await gateway.parts.api.inject({ url: '/metrics' })).body;
  const failures = Number(/^canplug_event_listener_failures_total (\d+)/m.exec(metrics)?.[1]);
  assert.ok(failures > 0, `the failures are counted (${failures})`);
});
