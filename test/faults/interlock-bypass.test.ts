// The promise of docs/security.md: no MQTT message, REST call, rule or UDP datagram closes a relay
// while an interlock is latched, even on a node whose own interlock is broken (the gateway is then the
// only layer), and not after a gateway restart either. Every way around it we could think of is tried.
import { test } from 'node:test';
import { rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import { Gateway } from '../../src/daemon/gateway.js';
import { silentLogger } from '../../src/log.js';
import { recordingClient, startGateway, waitFor } from '../helpers/gateway.js';
import { freeUdpPort, sendDatagram } from '../helpers/wifi-plug.js';
import { recordFigure } from '../helpers/figures.js';
import { sleep } from '../helpers/faults.js';

test('a latched socket whose node interlock is broken stays open against every MQTT, REST, rule and UDP attempt, and across a restart', async (t) => {
  const udpPort = await freeUdpPort();
  const tg = await startGateway({
    can: { sim: { report_period_ms: 100 } },
    http: { rate_limit: 0 },
    udp: { port: udpPort, host: '127.0.0.1' },
  });
  let stopped = false;
  t.after(() => (stopped ? undefined : tg.stop()));
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-1')?.available, 4000, 'socket-1 online');
  const node = gateway.parts.sim.sockets[0];
  node.interlockEnabled = false; // a node that would close whatever it is told
  node.setHumidity(90);
  const device = await waitFor(
    () => gateway.parts.registry.find('socket-1')?.state.gatewayLatch !== undefined && gateway.parts.registry.find('socket-1'),
    3000,
    'gateway latch',
  );
  await waitFor(() => !node.relay, 3000, 'relay open');

  const mqtt = await recordingClient(gateway.mqttUrl(), ['canplug/bridge/response/#']);
  t.after(() => mqtt.client.endAsync());
  const responses = () => mqtt.log.map((m) => JSON.parse(m.payload) as { status: string; error?: string });
  let attempts = 0;
  let closedEver = false;
  const watch = setInterval(() => (closedEver ||= node.relay), 5);
  t.after(() => clearInterval(watch));
  const mqttAttempt = async (topic: string, payload: string) => {
    attempts++;
    await mqtt.client.publishAsync(topic, payload, { qos: 1 });
  };
  const rest = async (method: 'PUT' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) => {
    attempts++;
    return gateway.parts.api.inject({ method, url, payload, headers: tg.auth });
  };

  // MQTT: anyone on the broker.
  for (const payload of ['ON', 'on', 'TOGGLE', '{"state":"ON"}', '{"state":"toggle"}']) await mqttAttempt('canplug/socket-1/set', payload);
  await mqttAttempt('canplug/bridge/request/device/limits', '{"id":"socket-1","humidity_limit":100,"humidity_hysteresis":0}');
  await mqttAttempt('canplug/bridge/request/device/limits', '{"id":"socket-1","humidity_hysteresis":1}');
  await mqttAttempt('canplug/bridge/request/device/limits', '{"id":"socket-1","auto_rearm":true}');
  await mqttAttempt('canplug/bridge/request/device/reset', '{"id":"socket-1"}');
  await mqttAttempt('canplug/bridge/request/device/remove', '{"id":"socket-1","force":true}');
  await mqttAttempt('canplug/bridge/request/device/rename', '{"from":"socket-1","to":"heater"}');
  await mqttAttempt('canplug/heater/set', 'ON');
  await mqttAttempt('homeassistant/status', 'online');
  await waitFor(() => mqtt.log.length >= 12, 5000, 'every request answered');
  const errors = responses()
    .filter((r) => r.status === 'error')
    .map((r) => r.error ?? '');
  assert.ok(
    errors.some((e) => /limits cannot be loosened \(humidity_limit 80 -> 100/.test(e)),
    errors.join('\n'),
  );
  assert.ok(errors.some((e) => /limits cannot be loosened \(a higher re-arm level\)/.test(e)));
  assert.ok(errors.some((e) => /auto_rearm on/.test(e)));
  assert.ok(errors.some((e) => /humidity 90 %RH is not yet below the re-arm level/.test(e)));
  assert.ok(errors.some((e) => /is interlocked; reset the latch once its condition has cleared before removing it/.test(e)));
  assert.ok(errors.filter((e) => /interlocked by the gateway/.test(e)).length >= 6, 'every close refused with the reason');

  // REST with the token: a trusted client cannot either.
  const name = gateway.parts.registry.find('heater') ? 'heater' : 'socket-1';
  assert.equal((await rest('PUT', `/api/devices/${name}/relay`, { on: true })).statusCode, 409);
  const loosen = await rest('PUT', `/api/devices/${name}/limits`, { humidity_limit: 95 });
  assert.equal(loosen.statusCode, 409, loosen.body);
  assert.equal((await rest('PUT', `/api/devices/${name}/limits`, { power_limit_w: 2000 })).statusCode, 200, 'a stricter limit is fine');
  assert.equal((await rest('PUT', `/api/devices/${name}/limits`, { power_limit_w: 0 })).statusCode, 409, 'removing a limit is loosening');
  assert.equal((await rest('POST', `/api/devices/${name}/reset`)).statusCode, 409);
  // A rule that switches it on at every humidity report.
  const rule = await rest('POST', '/api/rules', {
    name: 'always on',
    when: { device: name, quantity: 'humidity', relation: '>', value: 0 },
    then: { action: 'switch', device: name, state: 'on' },
  });
  assert.equal(rule.statusCode, 201, rule.body);
  // UDP: a datagram naming itself after the socket makes a Wi-Fi plug of its own, never touches the socket.
  attempts++;
  await sendDatagram(udpPort, `999:${name}&1:1&2:5`);
  await waitFor(() => gateway.parts.registry.byKey('wifi:999'), 3000, 'the fake plug is a device of its own');
  assert.notEqual(gateway.parts.registry.byKey('wifi:999')!.name, name);
  await sleep(1000);
  const ruleRefusals = (await gateway.parts.api.inject({ url: '/api/events?type=refusal&limit=500' })).json().events as {
    origin: string;
  }[];
  assert.ok(
    ruleRefusals.some((e) => e.origin === `rule:${rule.json().id}`),
    'the rule fired and was refused',
  );
  assert.equal(closedEver, false, 'the relay never closed');
  assert.equal(device.state.relay, false);
  assert.ok(device.state.gatewayLatch);

  // Restart: the gateway's latch is kept with the device, so it holds from the first second.
  await gateway.stop();
  stopped = true;
  const again = new Gateway({ config: tg.config, log: silentLogger });
  await again.start();
  t.after(async () => {
    await again.stop();
    rmSync(tg.dir, { recursive: true, force: true });
  });
  const restored = again.parts.registry.byKey('can:1')!;
  assert.match(
    restored.state.gatewayLatch ?? '',
    /humidity 90 %RH is at or over the limit 80 %RH/,
    'latched before the node has said anything',
  );
  await waitFor(() => restored.available, 4000, 'online again');
  const afterRestart = await again.parts.api.inject({
    method: 'PUT',
    url: `/api/devices/${restored.name}/relay`,
    payload: { on: true },
    headers: { authorization: `Bearer ${tg.token}` },
  });
  attempts++;
  assert.equal(afterRestart.statusCode, 409, afterRestart.body);
  recordFigure({ kind: 'security', name: 'interlock bypass attempts (MQTT, REST, rule, UDP, restart)', cases: attempts });
});
