import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { recordingClient, startGateway, waitFor } from '../helpers/gateway.js';

test('the default demo: bridge online, retained state for the sockets, REST lists them live, relay confirmed, readings stored', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;

  const mqttClient = await recordingClient(gateway.mqttUrl(), ['canplug/#']);
  t.after(() => mqttClient.client.endAsync());
  const { messages } = mqttClient;

  await waitFor(() => messages.get('canplug/bridge/state') === 'online', 5000, 'bridge state online');
  // A socket's first state may come from its heartbeat alone; the relay follows with its first status.
  const hasRelay = (name: string) => JSON.parse(messages.get(`canplug/${name}`) ?? '{}').state !== undefined;
  await waitFor(() => hasRelay('socket-1') && hasRelay('socket-2'), 15_000, 'state of two sockets');
  // availability is QoS 1 and state QoS 0: either may arrive first.
  await waitFor(() => messages.get('canplug/socket-1/availability') === 'online', 2000, 'availability online');
  const state = JSON.parse(messages.get('canplug/socket-2')!);
  assert.equal(state.state, 'ON');
  for (const key of ['voltage', 'current', 'power', 'humidity', 'temperature']) assert.equal(typeof state[key], 'number', key);

  const list = await gateway.parts.api.inject({ url: '/api/devices' });
  assert.equal(list.statusCode, 200);
  const devices = list.json() as { name: string; available: boolean; state: Record<string, unknown> }[];
  assert.deepEqual(devices.map((d) => d.name).sort(), ['socket-1', 'socket-2']);
  for (const d of devices) {
    assert.ok(d.available);
    assert.ok((d.state.voltage as number) > 200, `${d.name} voltage`);
    assert.ok((d.state.power as number) > 0, `${d.name} power`);
  }

  const put = await gateway.parts.api.inject({
    method: 'PUT',
    url: '/api/devices/socket-1/relay',
    headers: tg.auth,
    payload: { on: false },
  });
  assert.equal(put.statusCode, 200, put.body);
  assert.equal(put.json().state.state, 'OFF');
  assert.equal(gateway.parts.sim.sockets[0].relay, false, 'the node opened its relay');
  await waitFor(() => JSON.parse(messages.get('canplug/socket-1') ?? '{}').state === 'OFF', 2000, 'MQTT state OFF');
  await waitFor(() => JSON.parse(messages.get('canplug/socket-1') ?? '{}').power === 0, 2000, 'power 0 after opening');

  await waitFor(() => gateway.parts.writer.health().readingsWritten > 5, 3000, 'readings written');
  const db = new Database(tg.config.database.path, { readonly: true });
  t.after(() => db.close());
  const rows = db
    .prepare('SELECT d.name, count(*) AS n FROM readings r JOIN devices d ON d.id = r.device_id GROUP BY d.name ORDER BY d.name')
    .all() as { name: string; n: number }[];
  assert.deepEqual(
    rows.map((r) => r.name),
    ['socket-1', 'socket-2'],
  );
  assert.ok(rows.every((r) => r.n > 0));
});

test('devices go offline when heartbeats stop and come back when they resume', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  const device = await waitFor(() => gateway.parts.registry.find('socket-2')?.available && gateway.parts.registry.find('socket-2'));
  gateway.parts.sim.sockets[1].silent = true;
  await waitFor(() => !device.available, 4000, 'socket-2 offline');
  gateway.parts.sim.sockets[1].silent = false;
  await waitFor(() => device.available, 4000, 'socket-2 online again');
});

test('a restarted gateway remembers device names and energy', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const device = await waitFor(() => tg.gateway.parts.registry.find('socket-1'));
  tg.gateway.parts.registry.rename(device, 'kitchen');
  await tg.gateway.stop();
  const { Gateway } = await import('../../src/daemon/gateway.js');
  const { silentLogger } = await import('../../src/log.js');
  const again = new Gateway({ config: tg.config, log: silentLogger });
  await again.start();
  t.after(() => again.stop());
  assert.ok(again.parts.registry.find('kitchen'), 'renamed device known after restart');
  assert.equal(again.parts.registry.find('kitchen')?.key, 'can:1');
});
