import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, waitFor } from '../helpers/gateway.js';

test('PUT relay answers 200, 404, 400, 409 and 504 as the design says', async (t) => {
  const tg = await startGateway({ can: { command_timeout_ms: 300 } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-2')?.available, 3000, 'sockets online');
  const put = (id: string, payload: unknown) =>
    gateway.parts.api.inject({ method: 'PUT', url: `/api/devices/${id}/relay`, headers: tg.auth, payload: payload as object });

  await t.test('200 with the confirmed state, by name and by node id', async () => {
    const off = await put('socket-1', { on: false });
    assert.equal(off.statusCode, 200);
    assert.equal(off.json().state.state, 'OFF');
    const on = await put('1', { on: true });
    assert.equal(on.statusCode, 200);
    assert.equal(on.json().state.state, 'ON');
    assert.equal(gateway.parts.sim.sockets[0].relay, true);
  });

  await t.test('404 for an unknown device', async () => {
    const res = await put('socket-42', { on: true });
    assert.equal(res.statusCode, 404);
    assert.match(res.json().error, /no device "socket-42"/);
  });

  await t.test('400 with one sentence for a bad body', async () => {
    for (const body of [{ on: 'yes' }, {}, { on: true, extra: 1 }]) {
      const res = await put('socket-1', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.match(res.json().error, /^body/);
    }
    const notJson = await gateway.parts.api.inject({
      method: 'PUT',
      url: '/api/devices/socket-1/relay',
      headers: { ...tg.auth, 'content-type': 'application/json' },
      payload: '{"on":',
    });
    assert.equal(notJson.statusCode, 400);
  });

  await t.test('409 with the reason when the node interlock refuses', async () => {
    gateway.parts.sim.sockets[1].setHumidity(90);
    await waitFor(() => gateway.parts.registry.find('socket-2')?.state.nodeHumidityLatched, 2000, 'node latch reported');
    const res = await put('socket-2', { on: true });
    assert.equal(res.statusCode, 409);
    assert.match(res.json().error, /humidity 90 %RH is at or over the limit 80 %RH/);
    assert.equal(gateway.parts.sim.sockets[1].relay, false);
  });

  await t.test('504 when the node does not answer in time', async () => {
    gateway.parts.sim.sockets[0].silent = true;
    const started = Date.now();
    const res = await put('socket-1', { on: false });
    assert.equal(res.statusCode, 504);
    assert.match(res.json().error, /did not answer within 300 ms/);
    assert.ok(Date.now() - started < 2000);
  });
});

test('readings history is bucketed and validates its query', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.writer.health().readingsWritten > 10, 4000, 'some readings');
  const res = await gateway.parts.api.inject({ url: '/api/devices/socket-1/readings?bucket=1m' });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.equal(body.bucket_ms, 60_000);
  assert.ok(body.buckets.length >= 1 && body.buckets.length <= 2);
  const b = body.buckets.at(-1);
  assert.equal(b.t % 60_000, 0, 'bucket starts on a bucket boundary');
  assert.ok(b.power.min <= b.power.avg && b.power.avg <= b.power.max);
  assert.ok(b.voltage.avg > 200);

  for (const [query, message] of [
    ['bucket=fast', /bucket must be a duration/],
    ['from=yesterday', /from must be an ISO 8601 time/],
    ['from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', /must be before/],
    ['from=0&bucket=1s', /more than 10000 buckets/],
  ] as const) {
    const bad = await gateway.parts.api.inject({ url: `/api/devices/socket-1/readings?${query}` });
    assert.equal(bad.statusCode, 400, query);
    assert.match(bad.json().error, message);
  }
});

test('health is ok once CAN, MQTT and the database are up; /docs lists the routes', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const res = await tg.gateway.parts.api.inject({ url: '/api/health' });
  assert.equal(res.statusCode, 200);
  const health = res.json();
  assert.equal(health.status, 'ok');
  assert.equal(health.can.up, true);
  assert.equal(health.mqtt.connected, true);
  assert.equal(health.database.ok, true);
  const docs = await tg.gateway.parts.api.inject({ url: '/docs/json' });
  const paths = Object.keys(docs.json().paths);
  for (const p of ['/api/health', '/api/devices', '/api/devices/{id}', '/api/devices/{id}/relay', '/api/devices/{id}/readings']) {
    assert.ok(paths.includes(p), `${p} in OpenAPI`);
  }
});
