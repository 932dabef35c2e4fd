import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { haView } from '../helpers/ha-rules.js';

/** The gateway's rules read the same over MQTT as over REST: they live in src/gateway, each interface only words the answer. */
test('MQTT bridge requests meet the gateway rules REST meets: an offline node is refused at once, a Wi-Fi plug takes no node command', async (t) => {
  const tg = await startGateway({ udp: { port: 0 } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-2')?.available, 3000, 'socket-2 online');
  const ha = await haView(gateway.mqttUrl(), ['canplug/bridge/response/#']);
  t.after(() => ha.close());
  const ask = async (path: string, payload: object) => {
    const mark = ha.log.length;
    await ha.client.publishAsync(`canplug/bridge/request/${path}`, JSON.stringify(payload), { qos: 1 });
    const message = await waitFor(
      () => ha.log.slice(mark).find((m) => m.topic === `canplug/bridge/response/${path}`),
      3000,
      `response to ${path}`,
    );
    return JSON.parse(message.payload) as { status: string; error?: string };
  };

  gateway.parts.sim.sockets[1].silent = true;
  await waitFor(() => !gateway.parts.registry.find('socket-2')!.available, 4000, 'socket-2 offline');
  const offline = await ask('device/report', { id: 'socket-2' });
  assert.equal(offline.status, 'error');
  assert.match(offline.error!, /^socket-2 is offline \(no heartbeat\), so it cannot take a request to report now$/);
  const rest = await gateway.parts.api.inject({ method: 'POST', url: '/api/devices/socket-2/identify', headers: tg.auth });
  assert.equal(rest.statusCode, 409);
  assert.match(rest.json().error, /^socket-2 is offline \(no heartbeat\), so it cannot take identify$/);

  const plug = gateway.parts.registry.ensure('wifi:8266123', 'wifi', 'desk-plug');
  const notCan = await ask('device/report', { id: plug.name });
  assert.match(notCan.error!, /^desk-plug is a wifi device; only CAN sockets \(protocol v1\) take a request to report now$/);
});
