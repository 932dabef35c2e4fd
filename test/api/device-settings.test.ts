import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../../src/daemon/gateway.js';
import { silentLogger } from '../../src/log.js';
import { startGateway, waitFor } from '../helpers/gateway.js';

test('rename and settings: sent to the node where they live, merged, kept across a restart', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-2')?.available, 3000, 'sockets online');
  const patch = (id: string, payload: object) =>
    gateway.parts.api.inject({ method: 'PATCH', url: `/api/devices/${id}`, headers: tg.auth, payload });

  const renamed = await patch('socket-1', { name: 'kitchen kettle' });
  assert.equal(renamed.statusCode, 200, renamed.body);
  assert.equal(renamed.json().name, 'kitchen kettle');
  assert.equal((await gateway.parts.api.inject({ url: '/api/devices/kitchen%20kettle' })).statusCode, 200);
  assert.equal((await gateway.parts.api.inject({ url: '/api/devices/socket-1' })).statusCode, 404);

  const taken = await patch('socket-2', { name: 'kitchen kettle' });
  assert.equal(taken.statusCode, 400);
  assert.match(taken.json().error, /already used by can:1/);
  const digits = await patch('socket-2', { name: '12' });
  assert.equal(digits.statusCode, 400);
  assert.match(digits.json().error, /cannot be only digits/);

  const set = await patch('socket-2', { settings: { room: 'bathroom', report_period_ms: 500, power_on_state: 'off' } });
  assert.equal(set.statusCode, 200, set.body);
  assert.deepEqual(set.json().settings, { room: 'bathroom', report_period_ms: 500, power_on_state: 'off' });
  const commands = gateway.parts.sim.sockets[1].received.filter((m) => m.type === 'command').map((m) => m.type === 'command' && m.command);
  assert.deepEqual(commands.slice(-2), [
    { op: 'setReportPeriod', ms: 500 },
    { op: 'setPowerOnState', state: 'off' },
  ]);

  // Settings are merged: a later patch keeps what it does not mention.
  const merged = await patch('socket-2', { settings: { hidden: true } });
  assert.deepEqual(merged.json().settings, { room: 'bathroom', report_period_ms: 500, power_on_state: 'off', hidden: true });

  for (const [body, message] of [
    [{ settings: { report_period_ms: 50 } }, /^body\.settings\.report_period_ms: /],
    [
      { settings: { humidity_limit: 60 } },
      /^body\.settings\.humidity_limit: unknown key; allowed keys here: room, hidden, report_period_ms, power_on_state, ws_port$/,
    ],
    [
      { settings: { power_on_state: 'maybe' } },
      /^body\.settings\.power_on_state: "maybe" is not allowed; expected one of "off", "on", "restore"$/,
    ],
    [{}, /^body/],
  ] as const) {
    const res = await patch('socket-2', body);
    assert.equal(res.statusCode, 400, JSON.stringify(body));
    assert.match(res.json().error, message);
  }

  gateway.parts.sim.sockets[1].silent = true;
  await waitFor(() => !gateway.parts.registry.find('socket-2')!.available, 4000, 'socket-2 offline');
  const offline = await patch('socket-2', { settings: { report_period_ms: 1000 } });
  assert.equal(offline.statusCode, 409);
  assert.match(offline.json().error, /socket-2 is offline/);
  assert.equal(gateway.parts.registry.find('socket-2')!.settings.report_period_ms, 500, 'nothing stored when the node did not take it');

  await gateway.stop();
  const again = new Gateway({ config: tg.config, log: silentLogger });
  await again.start();
  t.after(() => again.stop());
  const kept = (await again.parts.api.inject({ url: '/api/devices/socket-2' })).json();
  assert.equal(kept.settings.room, 'bathroom');
  assert.ok(again.parts.registry.find('kitchen kettle'));
});

test('identify blinks a CAN socket and answers 504 when it stays silent', async (t) => {
  const tg = await startGateway({ can: { command_timeout_ms: 300 } });
  t.after(() => tg.stop());
  await waitFor(() => tg.gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');
  const identify = (query = '') =>
    tg.gateway.parts.api.inject({ method: 'POST', url: `/api/devices/socket-1/identify${query}`, headers: tg.auth });
  const res = await identify('?seconds=5');
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { device: 'socket-1', seconds: 5 });
  assert.ok(tg.gateway.parts.sim.sockets[0].received.some((m) => m.type === 'command' && m.command.op === 'identify'));
  assert.equal((await identify()).json().seconds, 10, 'default 10 s');
  const bad = await identify('?seconds=0');
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().error, /^querystring\.seconds/);
  tg.gateway.parts.sim.sockets[0].silent = true;
  const timeout = await identify('?seconds=1');
  assert.equal(timeout.statusCode, 504);
  assert.match(timeout.json().error, /did not answer within 300 ms/);
});

test('energy per day from the stored counter, with its time zone; bad queries are refused in one sentence', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.writer.health().readingsWritten > 10, 4000, 'some readings');
  const device = gateway.parts.registry.find('socket-1')!;
  // A day of history: the counter went from 10 to 12.5 kWh yesterday.
  const yesterday = new Date();
  yesterday.setDate(yesterday.getDate() - 1);
  yesterday.setHours(6, 0, 0, 0);
  gateway.parts.writer.addReading({ deviceId: device.id, ts: yesterday.getTime(), energy: 10 });
  gateway.parts.writer.addReading({ deviceId: device.id, ts: yesterday.getTime() + 12 * 3_600_000, energy: 12.5 });
  gateway.parts.writer.flush();

  const res = await gateway.parts.api.inject({ url: '/api/devices/socket-1/energy?period=day' });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.equal(body.unit, 'kWh');
  assert.equal(body.time_zone, Intl.DateTimeFormat().resolvedOptions().timeZone);
  assert.equal(body.periods.length, 31);
  assert.equal(body.periods.at(-2).kwh, 2.5, 'yesterday');
  assert.equal(body.periods.at(-3).kwh, null, 'the day before: no readings');

  for (const [query, message] of [
    ['period=year', /^querystring\.period: "year" is not allowed; expected one of "day", "week", "month"$/],
    ['from=soon', /from must be an ISO 8601 time/],
    ['from=0&period=day', /more than 1000 days/],
  ] as const) {
    const bad = await gateway.parts.api.inject({ url: `/api/devices/socket-1/energy?${query}` });
    assert.equal(bad.statusCode, 400, query);
    assert.match(bad.json().error, message);
  }
  assert.equal((await gateway.parts.api.inject({ url: '/api/devices/nope/energy' })).statusCode, 404);
});
