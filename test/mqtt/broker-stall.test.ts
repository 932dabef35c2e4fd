import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../../src/can/codec.js';
import { MAX_UNSENT_BYTES } from '../../src/mqtt/connection.js';
import { recordingClient, startGateway, waitFor } from '../helpers/gateway.js';
import { startBroker } from '../helpers/broker.js';

const status = { relay: true, humidityLatched: false, powerLatched: false, sensorFault: false };

test('a broker that stops reading: unsent state stays bounded, and every state is right once it reads again', async (t) => {
  const broker = await startBroker();
  t.after(() => broker.close());
  // Every voltage change published (no deadband): enough states to fill the socket while the broker stalls.
  const tg = await startGateway({ mqtt: { url: broker.url, publish: { voltage: { absolute: 0 } } }, can: { sim: { nodes: [] } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const peer = gateway.parts.sim.bus!.attach(() => {});
  peer.send(encode({ type: 'heartbeat', node: 9, state: 'running', protocol: 1, firmware: '1.0', uptime: 1 }));
  await waitFor(() => gateway.parts.registry.find('socket-9')?.available, 3000, 'socket-9 online');

  broker.pause();
  let maxUnsent = 0;
  let voltage = 0;
  for (let batch = 0; batch < 150 && gateway.parts.mqtt.dropped === 0; batch++) {
    for (let i = 0; i < 1000; i++) {
      voltage = 200 + ((batch * 1000 + i) % 500) / 10;
      peer.send(encode({ type: 'power', node: 9, voltage, current: 1, power: 100, status, seq: i & 0xff }));
    }
    await new Promise((r) => setImmediate(r));
    maxUnsent = Math.max(maxUnsent, gateway.parts.mqtt.unsentBytes);
  }
  assert.ok(gateway.parts.mqtt.dropped > 0, 'states were dropped while the broker was stalled');
  assert.ok(maxUnsent < MAX_UNSENT_BYTES + 64 * 1024, `unsent bytes stayed bounded: ${maxUnsent}`);
  const lastVoltage = voltage;
  await waitFor(() => gateway.parts.registry.find('socket-9')?.state.voltage === lastVoltage, 5000, 'last frame applied');

  broker.resume();
  const fresh = await recordingClient(broker.url, ['canplug/socket-9']);
  t.after(() => fresh.client.endAsync());
  await waitFor(
    () => JSON.parse(fresh.messages.get('canplug/socket-9') ?? '{}').voltage === lastVoltage,
    10_000,
    'retained state is the latest once the broker reads again',
  );
  const rows = gateway.parts.writer.health();
  assert.equal(rows.readingsDropped, 0, 'no reading lost in SQLite');
});
