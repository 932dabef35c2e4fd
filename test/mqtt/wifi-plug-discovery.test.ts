import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { discoveredEntities, haProblems, haView } from '../helpers/ha-rules.js';
import { FakeWifiPlug, freeUdpPort } from '../helpers/wifi-plug.js';

test('a Wi-Fi plug appears in Home Assistant like a socket: a switch and a power sensor that work', async (t) => {
  const port = await freeUdpPort();
  const plug = new FakeWifiPlug({ chipId: 1234567, name: 'Kitchen', gatewayPort: port, relay: true, loadWatts: 118.5 });
  await plug.start();
  t.after(() => plug.stop());
  const tg = await startGateway({ udp: { port, host: '127.0.0.1', ws_port: plug.wsPort, switch_timeout_ms: 2000 } });
  t.after(() => tg.stop());
  const ha = await haView(tg.gateway.mqttUrl());
  t.after(() => ha.close());

  plug.startBroadcasting(500);
  const entities = await waitFor(
    () => {
      const found = discoveredEntities(ha.topics).filter((e) => e.nodeId.endsWith('wifi_1234567'));
      return found.some((e) => e.component === 'switch') && found.some((e) => e.config.device_class === 'power') ? found : undefined;
    },
    5000,
    'discovery for the Wi-Fi plug',
  );
  // Everything HA needs (the sim sockets' topics included) arrives within moments.
  await waitFor(() => haProblems(ha.topics).length === 0, 5000, `HA rules satisfied: ${haProblems(ha.topics).join('; ')}`);
  const sw = entities.find((e) => e.component === 'switch')!;
  assert.equal(sw.config.state_topic, 'canplug/Kitchen');
  assert.equal(sw.config.command_topic, 'canplug/Kitchen/set');
  assert.equal((sw.config.device as { model: string }).model, 'ESP8266 AsyncSmartPlug');
  assert.ok(!entities.some((e) => e.config.device_class === 'energy'), "the plug's watt-hour estimate is not an energy meter");
  assert.ok(!entities.some((e) => e.config.device_class === 'humidity'), 'no humidity sensor on a plug');

  await ha.client.publishAsync('canplug/Kitchen/set', 'OFF');
  await waitFor(() => plug.relay === false, 5000, 'the plug switched off over its WebSocket');
  await waitFor(() => JSON.parse(ha.topics.get('canplug/Kitchen') ?? '{}').state === 'OFF', 5000, 'HA sees OFF');
});
