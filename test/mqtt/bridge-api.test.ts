import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryLogger, startGateway, waitFor } from '../helpers/gateway.js';
import { haView, type HaView } from '../helpers/ha-rules.js';
import { startEmbeddedBroker } from '../../src/mqtt/embedded-broker.js';

/** Publishes a request and returns the response that follows it on the response topic. */
async function ask(ha: HaView, path: string, payload: string | Buffer, retain = false): Promise<Record<string, unknown>> {
  const responseTopic = `canplug/bridge/response/${path}`;
  const mark = ha.log.length;
  await ha.client.publishAsync(`canplug/bridge/request/${path}`, payload, { qos: 1, retain });
  const message = await waitFor(() => ha.log.slice(mark).find((m) => m.topic === responseTopic), 3000, `response on ${responseTopic}`);
  return JSON.parse(message.payload);
}

test('bridge API: health check, info without secrets, devices list, limits, report, reset', async (t) => {
  const tg = await startGateway({ mqtt: { username: 'canplug', password: 'hunter2-secret' } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-2')?.available, 3000, 'sockets online');
  // With a password set, the embedded broker asks every client for it.
  const ha = await haView(gateway.mqttUrl(), ['canplug/#'], { username: 'canplug', password: 'hunter2-secret' });
  t.after(() => ha.close());

  await t.test('health_check answers like zigbee2mqtt, with the transaction echoed', async () => {
    const empty = await ask(ha, 'health_check', '');
    assert.equal(empty.status, 'ok');
    assert.equal((empty.data as { healthy: boolean }).healthy, true);
    const withTransaction = await ask(ha, 'health_check', '{"transaction":"abc-1"}');
    assert.equal(withTransaction.transaction, 'abc-1');
    assert.equal((withTransaction.data as { mqtt: { connected: boolean } }).mqtt.connected, true);
  });

  await t.test('bridge/info is retained, names the version and config, and holds no secret', async () => {
    const info = JSON.parse(await waitFor(() => ha.topics.get('canplug/bridge/info'), 2000, 'bridge/info'));
    assert.equal(info.version, (await import('../../src/version.js')).VERSION);
    assert.equal(info.config.mqtt.base_topic, 'canplug');
    assert.equal(info.config.mqtt.password, '***');
    assert.ok(!ha.topics.get('canplug/bridge/info')!.includes('hunter2'), 'password leaked');
    assert.ok(ha.log.find((m) => m.topic === 'canplug/bridge/info')!.retain);
  });

  await t.test('bridge/devices is a retained list with keys, kinds and limits', async () => {
    const list = JSON.parse(await waitFor(() => ha.topics.get('canplug/bridge/devices'), 2000, 'bridge/devices')) as Record<
      string,
      unknown
    >[];
    assert.deepEqual(
      list.map((d) => [d.friendly_name, d.key, d.kind, d.node]),
      [
        ['socket-1', 'can:1', 'can', 1],
        ['socket-2', 'can:2', 'can', 2],
      ],
    );
    assert.equal((list[0].limits as { humidity_limit: number }).humidity_limit, 80);
  });

  await t.test('device/limits validates, stores, pushes to the node and updates bridge/devices', async () => {
    const ok = await ask(
      ha,
      'device/limits',
      JSON.stringify({ id: 'socket-1', humidity_limit: 70, humidity_hysteresis: 5, power_limit_w: 2000, transaction: 7 }),
    );
    assert.equal(ok.status, 'ok', JSON.stringify(ok));
    assert.equal(ok.transaction, 7);
    assert.deepEqual((ok.data as { limits: Record<string, unknown> }).limits, {
      humidity_limit: 70,
      humidity_hysteresis: 5,
      power_limit_w: 2000,
      current_limit_a: 0,
      auto_rearm: false,
    });
    assert.equal(gateway.parts.sim.sockets[0].humidityLimit, 70, 'the node got the new limit');
    assert.equal(gateway.parts.sim.sockets[0].powerLimitW, 2000);
    await waitFor(() => JSON.parse(ha.topics.get('canplug/bridge/devices')!)[0].limits.humidity_limit === 70, 2000, 'devices list updated');

    const tooHigh = await ask(ha, 'device/limits', '{"id":"socket-1","humidity_limit":150}');
    assert.equal(tooHigh.status, 'error');
    assert.match(tooHigh.error as string, /^humidity_limit: expected integer to be less or equal to 100; got 150$/);
    const hysteresis = await ask(ha, 'device/limits', '{"id":"socket-1","humidity_limit":20,"humidity_hysteresis":30}');
    assert.match(hysteresis.error as string, /humidity_hysteresis \(30\) must be below humidity_limit \(20\)/);
    const nothing = await ask(ha, 'device/limits', '{"id":"socket-1"}');
    assert.match(
      nothing.error as string,
      /give at least one limit: humidity_limit, humidity_hysteresis, power_limit_w, current_limit_a, auto_rearm/,
    );
    assert.equal(gateway.parts.sim.sockets[0].humidityLimit, 70, 'refused limits never reached the node');
  });

  await t.test('device/report makes the node report now', async () => {
    const before = gateway.parts.sim.sockets[1].received.filter((m) => m.type === 'command' && m.command.op === 'reportNow').length;
    const res = await ask(ha, 'device/report', '{"id":"2"}');
    assert.deepEqual(res, { data: { id: 'socket-2' }, status: 'ok' });
    const after = gateway.parts.sim.sockets[1].received.filter((m) => m.type === 'command' && m.command.op === 'reportNow').length;
    assert.equal(after, before + 1);
  });

  await t.test('device/reset is refused while humid, accepted once dry', async () => {
    const sim = gateway.parts.sim.sockets[1];
    sim.setHumidity(90);
    const device = gateway.parts.registry.find('socket-2')!;
    await waitFor(() => device.state.gatewayLatch && device.state.nodeHumidityLatched, 3000, 'latched');
    const refused = await ask(ha, 'device/reset', '{"id":"socket-2"}');
    assert.equal(refused.status, 'error');
    assert.match(refused.error as string, /humidity 90 %RH is not yet below the re-arm level 70 %RH/);
    sim.setHumidity(50);
    await waitFor(() => device.state.humidity === 50, 3000, 'dry reading');
    const reset = await ask(ha, 'device/reset', '{"id":"socket-2"}');
    assert.deepEqual(reset, { data: { id: 'socket-2', interlock: false }, status: 'ok' });
  });
});

test('bridge API: every bad request gets a specific error, is logged once, never reaches the bus, and the gateway ignores its own responses', async (t) => {
  const logs = memoryLogger();
  const tg = await startGateway({}, undefined, logs.log);
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-2')?.available, 3000, 'sockets online');
  const ha = await haView(gateway.mqttUrl(), ['canplug/bridge/#']);
  t.after(() => ha.close());
  const commandsBefore = gateway.parts.sim.sockets.map((s) => s.received.filter((m) => m.type === 'command').length);

  const nested = `{"id":${'['.repeat(1500)}${']'.repeat(1500)}}`;
  const cases: [string, string | Buffer, RegExp][] = [
    ['device/report', 'not json', /^payload is not valid JSON \(.+\); send a JSON object such as \{"id":"socket-1"\}$/],
    ['device/report', Buffer.from([0xff, 0xfe, 0x00, 0x81]), /^payload is not UTF-8 text/],
    ['device/report', `{"id":"socket-1","pad":"${'x'.repeat(5000)}"}`, /^payload is 5\d{3} bytes; a request is at most 4096$/],
    ['device/report', '[1,2]', /^payload must be a JSON object such as .*; got an array$/],
    ['device/report', '"socket-1"', /^payload must be a JSON object .*; got string$/],
    ['device/report', 'null', /got null$/],
    ['device/report', '{"id":5}', /^id: expected string; got 5$/],
    ['device/report', '{"id":"socket-1","extra":1}', /^extra: unknown field; allowed fields: id, transaction$/],
    ['device/report', '{"id":"socket-1","__proto__":{"polluted":true}}', /^__proto__: unknown field/],
    ['device/report', nested, /^id: expected string; got \[\[\[/],
    ['device/report', '{"id":"nope"}', /^no device "nope"$/],
    ['device/rename', '{}', /^from: required$/],
    ['device/rename', '{"from":"socket-1","to":"bridge"}', /"bridge" is reserved/],
    ['device/rename', '{"from":"socket-1","to":"socket-2"}', /already used by can:2/],
    ['device/rename', '{"from":"socket-1","to":"a/b"}', /a device name is 1 to 64 letters/],
    ['device/remove', '{"id":"socket-1"}', /socket-1 is online and would come back at its next heartbeat/],
    ['device/limits', '{"id":"socket-1","humidity_limit":"80"}', /^humidity_limit: expected integer; got "80"$/],
    [
      'device/explode',
      '{}',
      /^unknown request "device\/explode"; known: device\/rename, device\/remove, device\/limits, device\/reset, device\/report, health_check$/,
    ],
  ];
  let requests = 0;
  for (const [path, payload, expected] of cases) {
    const res = await ask(ha, path, payload);
    requests++;
    assert.equal(res.status, 'error', `${path} ${String(payload).slice(0, 40)}`);
    assert.match(res.error as string, expected);
    assert.deepEqual(res.data, {});
  }

  await t.test('the transaction is echoed even when the request is refused', async () => {
    const res = await ask(ha, 'device/report', '{"id":"nope","transaction":"t-9"}');
    requests++;
    assert.equal(res.transaction, 't-9');
  });

  await t.test('nothing reached the bus, the gateway is healthy, and refusals of one request kind are logged once a minute', async () => {
    const commandsAfter = gateway.parts.sim.sockets.map((s) => s.received.filter((m) => m.type === 'command').length);
    assert.deepEqual(commandsAfter, commandsBefore);
    assert.equal(gateway.health().status, 'ok');
    for (let i = 0; i < 3; i++) await ask(ha, 'device/report', 'not json at all');
    requests += 3;
    const refusals = logs.lines().filter((l) => l.msg === 'MQTT bridge request refused' && l.request === 'device/report');
    assert.equal(refusals.length, 1);
  });

  await t.test("its own responses (and anyone else's) on the response topics cause nothing", async () => {
    await ha.client.publishAsync('canplug/bridge/response/device/report', '{"id":"socket-1"}');
    await new Promise((r) => setTimeout(r, 300));
    const responses = ha.log.filter((m) => m.topic.startsWith('canplug/bridge/response/'));
    assert.equal(responses.length, requests + 1, 'one response per request, plus the one published by the test');
  });
});

test('a retained request waiting on the broker is refused at subscribe time, not run again at every (re)connect', async (t) => {
  const broker = await startEmbeddedBroker('127.0.0.1', 0);
  t.after(() => broker.close());
  const ha = await haView(broker.url, ['canplug/bridge/response/#']);
  t.after(() => ha.close());
  await ha.client.publishAsync('canplug/bridge/request/device/remove', '{"id":"socket-1","force":true}', { retain: true, qos: 1 });
  const tg = await startGateway({ mqtt: { url: broker.url } });
  t.after(() => tg.stop());
  const message = await waitFor(() => ha.log.find((m) => m.topic === 'canplug/bridge/response/device/remove'), 3000, 'response');
  assert.match(
    JSON.parse(message.payload).error,
    /^retained requests are ignored \(they would run again after every reconnect\); publish without the retain flag$/,
  );
  await waitFor(() => tg.gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');
  assert.equal(ha.log.filter((m) => m.topic === 'canplug/bridge/response/device/remove').length, 1);
});
