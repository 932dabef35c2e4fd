import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryLogger, startGateway, waitFor } from '../helpers/gateway.js';
import { haView } from '../helpers/ha-rules.js';
import { mosquittoTest, startMosquitto } from '../helpers/mosquitto.js';

test('the set topic takes the JSON and plain forms of the design, in any case', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');
  const ha = await haView(gateway.mqttUrl(), ['canplug/#']);
  t.after(() => ha.close());
  const sim = gateway.parts.sim.sockets[0];
  const steps: [string, boolean][] = [
    ['OFF', false],
    ['on', true],
    ['{"state":"OFF"}', false],
    ['{"state":"toggle"}', true],
    [' Toggle\n', false],
    ['{ "state" : "ON" }', true],
  ];
  for (const [payload, relay] of steps) {
    await ha.client.publishAsync('canplug/socket-1/set', payload);
    await waitFor(() => sim.relay === relay, 2000, `${JSON.stringify(payload)} -> relay ${relay}`);
    await waitFor(() => JSON.parse(ha.topics.get('canplug/socket-1')!).state === (relay ? 'ON' : 'OFF'), 2000, 'state published');
  }
  assert.equal(ha.log.filter((m) => m.topic === 'canplug/bridge/response/device/set').length, 0, 'no refusals for good payloads');
});

test('bad set payloads are refused with the reason on bridge/response/device/set, logged once, and never reach the bus', async (t) => {
  const logs = memoryLogger();
  const tg = await startGateway({}, undefined, logs.log);
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');
  const ha = await haView(gateway.mqttUrl(), ['canplug/bridge/response/#']);
  t.after(() => ha.close());
  const relayCommands = () =>
    gateway.parts.sim.sockets.flatMap((s) => s.received).filter((m) => m.type === 'command' && m.command.op === 'setRelay').length;
  const before = relayCommands();

  const cases: [string, string | Buffer, RegExp][] = [
    ['socket-1', 'MAYBE', /^payload must be ON, OFF, TOGGLE or \{"state":"ON"\}; got "MAYBE"$/],
    ['socket-1', '{"state":"MAYBE"}', /^state must be ON, OFF or TOGGLE; got "MAYBE"$/],
    ['socket-1', '{"state":', /^payload is not valid JSON/],
    ['socket-1', '{"state":1}', /^state: Expected string/],
    ['socket-1', '{"state":"ON","brightness":3}', /brightness/],
    ['socket-1', Buffer.from([0xff, 0x00, 0xfe]), /^payload must be ON, OFF, TOGGLE .*got "\?\?\?"$/],
    ['socket-1', '', /^payload must be ON, OFF, TOGGLE/],
    ['socket-42', 'ON', /^no device named "socket-42"$/],
    ['bridge', 'ON', /^no device named "bridge"$/],
  ];
  for (const [device, payload, expected] of cases) {
    const mark = ha.log.length;
    await ha.client.publishAsync(`canplug/${device}/set`, payload);
    const response = await waitFor(
      () => ha.log.slice(mark).find((m) => m.topic === 'canplug/bridge/response/device/set'),
      2000,
      `refusal of ${String(payload)}`,
    );
    const body = JSON.parse(response.payload);
    assert.equal(body.status, 'error');
    assert.match(body.error, expected);
    assert.equal(body.data.device, device);
  }
  assert.equal(relayCommands(), before, 'no refused payload reached the bus');
  assert.equal(gateway.parts.sim.sockets[0].relay, true);

  for (let i = 0; i < 4; i++) await ha.client.publishAsync('canplug/socket-1/set', 'MAYBE');
  await waitFor(
    () => ha.log.filter((m) => m.topic === 'canplug/bridge/response/device/set').length === cases.length + 4,
    2000,
    'every refusal answered',
  );
  const logged = logs
    .lines()
    .filter((l) => l.msg === 'MQTT set refused' && String(l.error).includes('"MAYBE"') && String(l.error).startsWith('payload'));
  assert.equal(logged.length, 1, 'the same refusal is logged once');
  assert.equal(gateway.health().status, 'ok');

  // Over 64 KiB: dropped before parsing, counted, logged once per topic.
  const rejected = gateway.parts.mqtt.rejected;
  for (let i = 0; i < 3; i++) await ha.client.publishAsync('canplug/socket-1/set', Buffer.alloc(70_000, 'O'));
  await waitFor(() => gateway.parts.mqtt.rejected === rejected + 3, 2000, 'oversized payloads counted');
  assert.equal(logs.lines().filter((l) => String(l.msg).startsWith('MQTT payload over')).length, 1);
  assert.equal(relayCommands(), before);
  assert.match(await gateway.parts.metrics.text(), new RegExp(`canplug_mqtt_messages_rejected_total ${rejected + 3}`));
});

test('a retained set message switches when it is published, never again at a later (re)connect', mosquittoTest(), async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.close());
  const logs = memoryLogger();
  const first = await startGateway({ mqtt: { url: broker.url } });
  const ha = await haView(broker.url, ['canplug/bridge/response/#']);
  t.after(() => ha.close());
  await waitFor(() => first.gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');
  // Published retained while the gateway listens: delivered as a fresh message, so it is applied.
  await ha.client.publishAsync('canplug/socket-1/set', 'OFF', { retain: true });
  await waitFor(() => first.gateway.parts.sim.sockets[0].relay === false, 2000, 'the live OFF applied');
  await first.stop();

  // The next gateway (a restart) gets the broker's stored copy at subscribe time: it must not apply it.
  const second = await startGateway({ mqtt: { url: broker.url } }, undefined, logs.log);
  t.after(() => second.stop());
  const response = await waitFor(
    () => ha.log.find((m) => m.topic === 'canplug/bridge/response/device/set'),
    3000,
    'the retained copy refused',
  );
  assert.match(JSON.parse(response.payload).error, /^retained set messages are ignored/);
  await waitFor(() => second.gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(second.gateway.parts.sim.sockets[0].relay, true, 'the stale OFF did not switch the restarted socket');
  assert.equal(logs.lines().filter((l) => l.msg === 'MQTT set refused' && /retained/.test(String(l.error))).length, 1, 'logged');
});

test('20,000 distinct bad set payloads and device names give a handful of log lines, each still answered', async (t) => {
  const logs = memoryLogger();
  const tg = await startGateway({}, undefined, logs.log);
  t.after(() => tg.stop());
  const { gateway } = tg;
  const ha = await haView(gateway.mqttUrl(), ['canplug/bridge/response/#']);
  t.after(() => ha.close());
  const N = 20_000;
  for (let i = 0; i < N; i += 500) {
    await Promise.all(
      Array.from({ length: 500 }, (_, j) =>
        (i + j) % 2 === 0
          ? ha.client.publishAsync('canplug/socket-1/set', `MAYBE-${i + j}`)
          : ha.client.publishAsync(`canplug/ghost-${i + j}/set`, 'ON'),
      ),
    );
  }
  await waitFor(() => ha.log.length === N, 30_000, `${N} refusals answered`);
  const lines = logs.lines().filter((l) => l.msg === 'MQTT set refused');
  assert.ok(lines.length <= 2, `${lines.length} log lines for ${N} refusals`);
  assert.equal(gateway.health().status, 'ok');
});

test('a flood of ON at a latched socket: every one refused and answered, one event-log entry a minute with the count', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');
  const node = gateway.parts.sim.sockets[0];
  node.interlockEnabled = false;
  node.setHumidity(92);
  await waitFor(() => gateway.parts.registry.byKey('can:1')?.state.gatewayLatch && !node.relay, 3000, 'socket-1 latched and open');
  const ha = await haView(gateway.mqttUrl(), ['canplug/bridge/response/device/set']);
  t.after(() => ha.close());
  const N = 500;
  for (let i = 0; i < N; i++) await ha.client.publishAsync('canplug/socket-1/set', 'ON');
  await waitFor(() => ha.log.length === N, 10_000, `${N} refusals answered`);
  assert.ok(ha.log.every((m) => /interlocked by the gateway/.test(JSON.parse(m.payload).error)));
  assert.equal(node.relay, false);
  await t.test('one event-log entry for the 500 refusals', async () => {
    gateway.parts.writer.flush();
    const events = (await gateway.parts.api.inject({ url: '/api/events?type=refusal&limit=1000' })).json().events as { origin: string }[];
    assert.equal(events.filter((e) => e.origin === 'mqtt').length, 1);
  });
});
