import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import { DeviceStatePayload } from '../../src/contracts/device.js';
import { HealthReport } from '../../src/contracts/health.js';
import { EVENT_TYPES } from '../../src/contracts/vocabulary.js';
import { recordingClient, startGateway, waitFor } from '../helpers/gateway.js';

const problems = (schema: Parameters<typeof Value.Errors>[0], value: unknown) =>
  [...Value.Errors(schema, value)].map((e) => `${e.path}: ${e.message}`);

test('the contracts: health, device state and the event log are each one documented schema, and what the gateway sends fits it', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-1')?.state.humidity !== undefined, 3000, 'socket-1 reporting');
  const api = gateway.parts.api;
  const openapi = (await api.inject({ url: '/docs/json' })).json();

  await t.test('GET /api/health: every field documented in OpenAPI; the report (REST and MQTT health_check) has no other', async () => {
    const documented = openapi.paths['/api/health'].get.responses['200'].content['application/json'].schema;
    for (const section of ['can', 'mqtt', 'database', 'safety', 'devices', 'udp']) {
      assert.ok(documented.properties[section]?.properties, `${section} is documented field by field`);
    }
    assert.equal(openapi.paths['/api/health'].get.responses['503'].content['application/json'].schema.properties.status.anyOf.length, 4);
    // The report as built, before any serializer could drop a field nobody documented.
    assert.deepEqual(problems(HealthReport, gateway.health()), []);
    const served = await api.inject({ url: '/api/health' });
    assert.deepEqual(
      served.json(),
      JSON.parse(JSON.stringify(gateway.health(), (k, v) => (k === 'uptime_s' ? served.json().uptime_s : v))),
    );
  });

  await t.test('the device state is the same object on MQTT and in REST, of the documented schema', async () => {
    const mqtt = await recordingClient(gateway.mqttUrl(), ['canplug/socket-1']);
    t.after(() => mqtt.client.endAsync());
    const onMqtt = JSON.parse(await waitFor(() => mqtt.messages.get('canplug/socket-1'), 3000, 'retained state'));
    const inRest = (await api.inject({ url: '/api/devices/socket-1' })).json().state;
    assert.deepEqual(problems(DeviceStatePayload, onMqtt), []);
    assert.deepEqual(problems(DeviceStatePayload, inRest), []);
    assert.deepEqual(Object.keys(inRest).sort(), Object.keys(onMqtt).sort());
    assert.deepEqual(
      Object.keys(
        openapi.paths['/api/devices/{id}'].get.responses['200'].content['application/json'].schema.properties.state.properties,
      ).sort(),
      Object.keys(DeviceStatePayload.properties).sort(),
    );
  });

  await t.test('the event log: types from one list; an unknown type or origin is refused with what is allowed', async () => {
    const unknown = await api.inject({ url: '/api/events?type=trips' });
    assert.equal(unknown.statusCode, 400);
    assert.match(unknown.json().error, /querystring\.type: "trips" is not allowed; expected .*"trip"/);
    assert.equal((await api.inject({ url: '/api/events?origin=someone' })).statusCode, 400);
    assert.equal((await api.inject({ url: '/api/events?origin=rule:3' })).statusCode, 200);
    const documented =
      openapi.paths['/api/events'].get.responses['200'].content['application/json'].schema.properties.events.items.properties.type;
    assert.deepEqual(
      documented.anyOf.map((s: { enum: string[] }) => s.enum[0]),
      [...EVENT_TYPES],
    );
    const { events } = (await api.inject({ url: '/api/events?type=availability' })).json();
    assert.ok(events.length > 0 && events.every((e: { type: string }) => e.type === 'availability'));
  });
});
