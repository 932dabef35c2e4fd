import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryLogger, startGateway, waitFor } from '../helpers/gateway.js';
import { haView } from '../helpers/ha-rules.js';

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
  const relayCommands = () => gateway.parts.sim.sockets.flatMap((s) => s.received).filter((m) => m.type === 'command' && m.command.op === 'setRelay').length;
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
    const response = await waitFor(() => ha.log.slice(mark).find((m) => m.topic === 'canplug/bridge/response/device/set'), 2000, `refusal of ${String(payload)}`);
    const body = JSON.parse(response.payload);
    assert.equal(body.status, 'error');
    assert.match(body.error, expected);
    assert.equal(body.data.device, device);
  }
  assert.equal(relayCommands(), before, 'no refused payload reached the bus');
  assert.equal(gateway.parts.sim.sockets[0].relay, true);

  for (let i = 0; i < 4; i++) await ha.client.publishAsync('canplug/socket-1/set', 'MAYBE');
  await waitFor(() => ha.log.filter((m) => m.topic === 'canplug/bridge/response/device/set').length === cases.length + 4, 2000, 'every refusal answered');
  const logged = logs.lines().filter((l) => l.msg === 'MQTT set refused' && String(l.error).includes('"MAYBE"') && String(l.error).startsWith('payload'));
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
