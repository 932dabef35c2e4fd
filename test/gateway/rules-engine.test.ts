import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordingClient, waitFor, authHeaders } from '../helpers/gateway.js';
import { addRule, events, gatewayWithPlug, getRule, sleep } from '../helpers/rules.js';

test('a Wi-Fi plug drives a CAN socket; "changes to" fires on a change it saw, not on the first reading', async (t) => {
  const { tg, gateway, plug } = await gatewayWithPlug(t);
  const overload = await addRule(gateway, {
    name: 'kitchen overload',
    when: { device: 'Kitchen', quantity: 'power', relation: '>=', value: 1000 },
    then: { action: 'switch', device: 'socket-2', state: 'off' },
  });
  const wentOff = await addRule(gateway, {
    name: 'kitchen off',
    when: { device: 'Kitchen', quantity: 'state', relation: 'changes to', value: 'OFF' },
    then: { action: 'event', message: 'the kitchen plug went off' },
  });
  await sleep(700); // a few broadcasts with the plug on
  assert.equal(gateway.parts.sim.sockets[1].relay, true);

  plug.loadWatts = 1500;
  await waitFor(() => !gateway.parts.sim.sockets[1].relay, 3000, 'socket-2 opened by the rule');
  assert.equal((await getRule(gateway, overload.id)).fire_count, 1);
  assert.equal((await getRule(gateway, wentOff.id)).fire_count, 0);

  await gateway.parts.api.inject({
    headers: authHeaders(gateway),
    method: 'PUT',
    url: '/api/devices/Kitchen/relay',
    payload: { on: false },
  });
  await waitFor(async () => (await getRule(gateway, wentOff.id)).fire_count === 1, 2000, '"changes to OFF" fired');
  await sleep(700);
  assert.equal((await getRule(gateway, wentOff.id)).fire_count, 1, 'once, though every broadcast says OFF');
  await waitFor(() => events(tg, `origin = 'rule:${wentOff.id}'`).length === 1, 2000, 'event written');
  assert.equal(events(tg, `origin = 'rule:${wentOff.id}'`)[0].cause, 'the kitchen plug went off');
});

test('rules fire in order, publish to MQTT, respect time windows and can be disabled', async (t) => {
  const { tg, gateway } = await gatewayWithPlug(t);
  const mqtt = await recordingClient(gateway.mqttUrl(), ['home/#']);
  t.after(() => mqtt.client.endAsync());
  const socket = gateway.parts.sim.sockets[0];
  socket.setLoad(20);
  const when = { device: 'socket-1', quantity: 'power', relation: '>', value: 100 };
  const hh = (d: Date) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  const now = new Date();
  const later = new Date(now.getTime() + 2 * 3600_000);
  const today = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][now.getDay()];

  const off = await addRule(gateway, { name: 'first off', when, then: { action: 'switch', device: 'socket-2', state: 'off' } });
  const on = await addRule(gateway, { name: 'then on', when, then: { action: 'switch', device: 'socket-2', state: 'on' } });
  const publish = await addRule(gateway, {
    name: 'tell',
    when,
    then: { action: 'publish', topic: 'home/washer', payload: 'busy', retain: true },
  });
  const notNow = await addRule(gateway, {
    name: 'window later',
    when,
    between: { from: hh(later), to: hh(new Date(later.getTime() + 60_000)) },
    then: { action: 'event', message: 'x' },
  });
  const notToday = await addRule(gateway, {
    name: 'other day',
    when,
    days: [today === 'mon' ? 'tue' : 'mon'],
    then: { action: 'event', message: 'x' },
  });
  const inWindow = await addRule(gateway, {
    name: 'window now',
    when,
    between: { from: hh(new Date(now.getTime() - 3600_000)), to: hh(later) },
    days: [today],
    then: { action: 'event', message: 'y' },
  });
  const disabled = await addRule(gateway, { name: 'disabled', enabled: false, when, then: { action: 'event', message: 'z' } });

  socket.setLoad(300);
  await waitFor(() => mqtt.messages.get('home/washer') === 'busy', 3000, 'published');
  await waitFor(async () => (await getRule(gateway, on.id)).fire_count === 1, 3000, 'the on rule fired');
  await waitFor(() => events(tg, "type = 'relay'").length >= 2, 2000, 'relay events written');
  assert.deepEqual(
    events(tg, "type = 'relay'").map((e) => [e.cause, e.origin]),
    [
      ['off', `rule:${off.id}`],
      ['on', `rule:${on.id}`],
    ],
    'switched in rule order',
  );
  assert.equal(gateway.parts.sim.sockets[1].relay, true, 'the later rule in order wins');
  const counts = async (...ids: number[]) => Promise.all(ids.map(async (id) => (await getRule(gateway, id)).fire_count));
  assert.deepEqual(await counts(off.id, on.id, publish.id, notNow.id, notToday.id, inWindow.id, disabled.id), [1, 1, 1, 0, 0, 1, 0]);
  const late = await recordingClient(gateway.mqttUrl(), ['home/washer']);
  t.after(() => late.client.endAsync());
  await waitFor(() => late.log.find((m) => m.retain && m.payload === 'busy'), 2000, 'retained for a later subscriber');

  const enable = await gateway.parts.api.inject({
    headers: authHeaders(gateway),
    method: 'PUT',
    url: `/api/rules/${disabled.id}`,
    payload: { name: 'disabled', enabled: true, when, then: { action: 'event', message: 'z' } },
  });
  assert.equal(enable.statusCode, 200, enable.body);
  await waitFor(async () => (await getRule(gateway, disabled.id)).fire_count === 1, 3000, 'enabled rule fires on the next reading');
});

test('schedules fire once in their minute on their days', async (t) => {
  const { gateway } = await gatewayWithPlug(t);
  const daily = await addRule(gateway, { name: 'morning', at: '07:00', then: { action: 'switch', device: 'socket-1', state: 'off' } });
  const weekend = await addRule(gateway, {
    name: 'weekend',
    at: '07:00',
    days: ['sat', 'sun'],
    then: { action: 'event', message: 'weekend' },
  });
  const friday = new Date(2026, 10, 20, 7, 0, 5); // a Friday, local time
  gateway.parts.rules.runSchedule(new Date(2026, 10, 20, 6, 59, 59));
  assert.equal((await getRule(gateway, daily.id)).fire_count, 0);
  gateway.parts.rules.runSchedule(friday);
  gateway.parts.rules.runSchedule(new Date(2026, 10, 20, 7, 0, 40));
  await waitFor(() => !gateway.parts.sim.sockets[0].relay, 2000, 'socket-1 switched off at 07:00');
  assert.equal((await getRule(gateway, daily.id)).fire_count, 1, 'once in the minute');
  assert.equal((await getRule(gateway, weekend.id)).fire_count, 0);
  gateway.parts.rules.runSchedule(new Date(2026, 10, 21, 7, 0, 5));
  assert.equal((await getRule(gateway, daily.id)).fire_count, 2, 'again the next day');
  assert.equal((await getRule(gateway, weekend.id)).fire_count, 1);
});

test('rules follow a renamed device and survive a restart', async (t) => {
  const { tg, gateway } = await gatewayWithPlug(t);
  gateway.parts.sim.sockets[0].setLoad(20);
  const rule = await addRule(gateway, {
    name: 'washer',
    when: { device: 'socket-1', quantity: 'power', relation: '>', value: 100 },
    then: { action: 'event', message: 'washing' },
  });
  gateway.parts.registry.rename(gateway.parts.registry.find('socket-1')!, 'washer');
  assert.equal((await getRule(gateway, rule.id)).when.device, 'washer');
  gateway.parts.sim.sockets[0].setLoad(300);
  await waitFor(async () => (await getRule(gateway, rule.id)).fire_count === 1, 3000, 'fires after the rename');

  await gateway.stop();
  const { Gateway: GatewayClass } = await import('../../src/daemon/gateway.js');
  const { silentLogger } = await import('../../src/log.js');
  const again = new GatewayClass({ config: tg.config, log: silentLogger });
  await again.start();
  t.after(() => again.stop());
  const listed = (await again.parts.api.inject({ url: '/api/rules' })).json();
  assert.equal(listed.length, 1);
  assert.equal(listed[0].when.device, 'washer');
  assert.equal(listed[0].fire_count, 1);
});
