// Home Assistant's birth message ("online" on homeassistant/status) makes the gateway re-send every
// discovery config. Anyone who may publish can send it at any rate: the re-sends are bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haView } from '../helpers/ha-rules.js';
import { startGateway, waitFor } from '../helpers/gateway.js';

test('a flood of Home Assistant births costs one re-send now and one when the interval ends, not one each', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.registry.find('socket-2')?.available, 3000, 'sockets online');
  const ha = await haView(gateway.mqttUrl(), ['homeassistant/#']);
  t.after(() => ha.close());
  await waitFor(() => ha.log.length > 20, 3000, 'retained configs');
  const topic = ha.log.find((m) => m.topic.endsWith('/switch/config'))!.topic;
  const sends = () => ha.log.filter((m) => m.topic === topic && !m.retain).length;

  for (let i = 0; i < 300; i++) await ha.client.publishAsync('homeassistant/status', 'online');
  await waitFor(() => sends() === 1, 3000, 'the first birth answered at once');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(sends(), 1, 'the others wait for the interval');
  assert.equal(gateway.discovery!.resendsCoalesced, 299);
  assert.equal((await gateway.api.inject({ url: '/api/health' })).json().mqtt.discovery_resends_coalesced, 299);
  await waitFor(() => sends() === 2, 12_000, 'one more re-send when the 10 s interval ends');
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(sends(), 2);
});
