// Messages the gateway answers or logs, which anyone who may publish can send at any rate: Home
// Assistant's birth (a re-send of every config), "offline" on the bridge state (answered with
// "online"), another gateway's bridge info (a conflict). What they cost is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haView } from '../helpers/ha-rules.js';
import { memoryLogger, startGateway, waitFor } from '../helpers/gateway.js';

test('a flood of Home Assistant births costs one re-send now and one when the interval ends, not one each', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-2')?.available, 3000, 'sockets online');
  const ha = await haView(gateway.mqttUrl(), ['homeassistant/#']);
  t.after(() => ha.close());
  await waitFor(() => ha.log.length > 20, 3000, 'retained configs');
  const topic = ha.log.find((m) => m.topic.endsWith('/switch/config'))!.topic;
  const sends = () => ha.log.filter((m) => m.topic === topic && !m.retain).length;

  for (let i = 0; i < 300; i++) await ha.client.publishAsync('homeassistant/status', 'online');
  await waitFor(() => sends() === 1, 3000, 'the first birth answered at once');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(sends(), 1, 'the others wait for the interval');
  assert.equal(gateway.parts.discovery!.resendsCoalesced, 299);
  assert.equal((await gateway.parts.api.inject({ url: '/api/health' })).json().mqtt.discovery_resends_coalesced, 299);
  await waitFor(() => sends() === 2, 12_000, 'one more re-send when the 10 s interval ends');
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(sends(), 2);
});

test('floods of "offline" on the bridge state and of fake gateways\' bridge info: answered, a few log lines, the host clipped', async (t) => {
  const logs = memoryLogger('info');
  const tg = await startGateway({}, undefined, logs.log);
  t.after(() => tg.stop());
  const { gateway } = tg;
  const ha = await haView(gateway.mqttUrl(), ['canplug/bridge/state']);
  t.after(() => ha.close());
  for (let i = 0; i < 500; i++) await ha.client.publishAsync('canplug/bridge/state', 'offline');
  await waitFor(() => ha.log.filter((m) => m.payload === 'online' && !m.retain).length >= 1, 3000, 'online again');
  for (let i = 0; i < 500; i++) {
    await ha.client.publishAsync('canplug/bridge/info', JSON.stringify({ instance: `fake-${i}`, host: `${'h'.repeat(5000)}-${i}\n` }));
  }
  await waitFor(() => gateway.parts.mqtt.conflict !== undefined, 3000, 'the conflict seen');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(gateway.parts.mqtt.conflict!.length < 300, gateway.parts.mqtt.conflict!.slice(0, 100));
  assert.ok(!/\n/.test(gateway.parts.mqtt.conflict!));
  const lines = logs.lines().filter((l) => /bridge state was set offline|another canplug gateway/.test(String(l.msg)));
  assert.ok(lines.length <= 2, `${lines.length} log lines`);
  assert.equal(gateway.parts.mqtt.connected, true);
});
