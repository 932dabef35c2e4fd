// The MQTT bridge API on its own: BridgeApi on a real MqttConnection to the embedded broker, a real
// registry on a temporary database, the main thread's safety rule, and a peer on the simulated bus
// answering for the nodes. Requests go through BridgeApi.handle() as the subscription would hand them
// over; answers are read back from the broker. (bridge-api.test.ts does it through a whole gateway.)
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Commands } from '../../src/gateway/commands.js';
import { DeviceControl } from '../../src/gateway/control.js';
import { silentLogger } from '../../src/log.js';
import { BridgeApi, MAX_REQUEST_BYTES } from '../../src/mqtt/bridge-api.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { startEmbeddedBroker } from '../../src/mqtt/embedded-broker.js';
import { recordingClient, waitFor } from '../helpers/gateway.js';
import { canDevice, healthReport, unitBus, unitRegistry, unitSafety } from '../helpers/unit.js';

async function setup(t: TestContext) {
  const unit = unitRegistry(t);
  const { registry, events } = unit;
  const bus = await unitBus(t);
  const commands = new Commands(bus.can, 500);
  commands.start();
  t.after(() => commands.stop());
  const control = new DeviceControl(registry, events);
  const safety = await unitSafety(t, { registry, events, control, commands });
  const broker = await startEmbeddedBroker('127.0.0.1', 0);
  t.after(() => broker.close());
  const connection = new MqttConnection({ url: broker.url, baseTopic: 'canplug', instance: 'test', guard: false, log: silentLogger });
  await connection.start();
  t.after(() => connection.stop());
  const api = new BridgeApi({
    connection,
    events,
    registry,
    safety,
    commands,
    baseTopic: 'canplug',
    discoveryPrefix: 'homeassistant',
    gatewayId: 'gw1',
    version: '0.0.0-test',
    configSummary: () => ({ mqtt: { password: '***' } }),
    health: () => healthReport({ version: '0.0.0-test' }),
    log: silentLogger,
  });
  api.start();
  t.after(() => api.stop());
  const ha = await recordingClient(broker.url, ['canplug/bridge/#']);
  t.after(() => ha.client.endAsync());
  /** Hands a request to the API and returns the response it published. */
  const ask = async (path: string, payload: string | Buffer, retained = false) => {
    const mark = ha.log.length;
    await api.handle(path, Buffer.from(payload), retained);
    const topic = `canplug/bridge/response/${path}`;
    const response = await waitFor(() => ha.log.slice(mark).find((m) => m.topic === topic), 3000, `a response on ${topic}`);
    return JSON.parse(response.payload) as { status: string; error?: string; data: Record<string, unknown>; transaction?: unknown };
  };
  return { ...unit, bus, ask, ha };
}

test('a request is answered on its response topic, the transaction echoed; an empty payload is an empty request', async (t) => {
  const { ask } = await setup(t);
  assert.deepEqual(await ask('health_check', ''), { data: { healthy: true, ...healthReport({ version: '0.0.0-test' }) }, status: 'ok' });
  assert.deepEqual((await ask('health_check', '{"transaction": 7}')).transaction, 7);
});

test('every bad request gets one specific sentence and runs nothing', async (t) => {
  const { ask, registry, ...unit } = await setup(t);
  canDevice({ registry, ...unit }, 1);
  const cases: [string, string | Buffer, string][] = [
    [
      'device/explode',
      '{}',
      'unknown request "device/explode"; known: device/rename, device/remove, device/limits, device/reset, device/report, health_check',
    ],
    [
      'device/rename',
      'x'.repeat(MAX_REQUEST_BYTES + 1),
      `payload is ${MAX_REQUEST_BYTES + 1} bytes; a request is at most ${MAX_REQUEST_BYTES}`,
    ],
    ['device/rename', Buffer.from([0xff, 0xfe]), 'payload is not UTF-8 text; send a JSON object'],
    ['device/rename', '[1]', 'payload must be a JSON object such as {"id":"socket-1"}; got an array'],
    ['device/rename', '{"from":"socket-1"}', 'to: required'],
    ['device/rename', '{"from":"socket-1","to":"x","as":"y"}', 'as: unknown field; allowed fields: from, to, transaction'],
    ['device/limits', '{"id":"socket-1","humidity_limit":"high"}', 'humidity_limit: expected integer; got "high"'],
    [
      'device/limits',
      '{"id":"socket-1"}',
      'give at least one limit: humidity_limit, humidity_hysteresis, power_limit_w, current_limit_a, auto_rearm',
    ],
    ['device/reset', '{"id":"socket-9"}', 'no device "socket-9"'],
  ];
  for (const [path, payload, error] of cases) {
    const response = await ask(path, payload);
    assert.deepEqual([response.status, response.error], ['error', error], `${path} ${payload.toString().slice(0, 40)}`);
  }
  const bad = await ask('device/rename', '{"from":"socket-1",');
  assert.match(bad.error ?? '', /^payload is not valid JSON \(.+\); send a JSON object such as \{"id":"socket-1"\}$/);
  const retained = await ask('device/rename', '{"from":"socket-1","to":"Heater"}', true);
  assert.equal(
    retained.error,
    'retained requests are ignored (they would run again after every reconnect); publish without the retain flag',
  );
  assert.equal(registry.canNode(1)!.name, 'socket-1', 'nothing was renamed');
});

test('remove: an online device needs "force", an interlocked one is kept even with it', async (t) => {
  const { ask, registry, ...unit } = await setup(t);
  const online = canDevice({ registry, ...unit }, 1);
  const latched = canDevice({ registry, ...unit }, 2);
  registry.update(latched, { state: { nodeHumidityLatched: true } });

  const refused = await ask('device/remove', '{"id":"socket-1"}');
  assert.equal(
    refused.error,
    'socket-1 is online and would come back at its next heartbeat; disconnect it first, or remove it with "force" to do it anyway',
  );
  const kept = await ask('device/remove', '{"id":"socket-2","force":true}');
  assert.equal(kept.error, 'socket-2 is interlocked; reset the latch once its condition has cleared before removing it');
  assert.deepEqual((await ask('device/remove', '{"id":"1","force":true}')).data, { id: 'socket-1', key: 'can:1', force: true });
  assert.equal(registry.byKey(online.key), undefined);
  assert.ok(registry.byKey(latched.key));
});

test('rename and limits change the device; the retained device list follows', async (t) => {
  const { ask, ha, bus, ...unit } = await setup(t);
  canDevice(unit, 3);
  bus.answer('ok'); // the node takes the new power limit
  assert.deepEqual((await ask('device/rename', '{"from":"3","to":"Dryer"}')).data, { from: 'socket-3', to: 'Dryer', key: 'can:3' });
  const limits = await ask('device/limits', '{"id":"Dryer","power_limit_w":1500,"transaction":"t1"}');
  assert.equal(limits.status, 'ok', limits.error);
  assert.equal((limits.data.limits as { power_limit_w: number }).power_limit_w, 1500);
  const list = await waitFor(
    () => {
      const devices = JSON.parse(ha.messages.get('canplug/bridge/devices') ?? '[]') as {
        friendly_name: string;
        limits: { power_limit_w: number };
      }[];
      return devices.find((d) => d.friendly_name === 'Dryer' && d.limits.power_limit_w === 1500);
    },
    3000,
    'the renamed device with its new limit in bridge/devices',
  );
  assert.equal(list.friendly_name, 'Dryer');
});

test("report asks the node over CAN and answers once it replies; a refusal is an error with the node's answer", async (t) => {
  const { ask, bus, ...unit } = await setup(t);
  canDevice(unit, 4);
  bus.answer('ok');
  assert.deepEqual(await ask('device/report', '{"id":"socket-4"}'), { data: { id: 'socket-4' }, status: 'ok' });
  bus.answer('failed');
  assert.equal((await ask('device/report', '{"id":"socket-4"}')).error, 'socket-4 answered "failed" to a request to report now');
});
