import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { recordingClient, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { FakeWifiPlug, freeUdpPort } from '../helpers/wifi-plug.js';
import type { Gateway } from '../../src/gateway/controller.js';

type After = { after: (fn: () => Promise<unknown> | unknown) => void };

/** A gateway with sim sockets 1 and 2 and a fake Wi-Fi plug "Kitchen" (on, 118.5 W) that broadcasts every 300 ms. */
async function gatewayWithPlug(t: After): Promise<{ tg: TestGateway; gateway: Gateway; plug: FakeWifiPlug }> {
  const port = await freeUdpPort();
  const plug = new FakeWifiPlug({ chipId: 1234567, name: 'Kitchen', gatewayPort: port, relay: true, loadWatts: 118.5 });
  await plug.start();
  t.after(() => plug.stop());
  const tg = await startGateway({ udp: { port, host: '127.0.0.1', ws_port: plug.wsPort, switch_timeout_ms: 2000 } });
  t.after(() => tg.stop());
  plug.startBroadcasting(300);
  const { gateway } = tg;
  await waitFor(() => gateway.registry.find('Kitchen')?.available && gateway.registry.find('socket-2')?.available, 3000, 'plug and sockets online');
  return { tg, gateway, plug };
}

async function addRule(gateway: Gateway, rule: object): Promise<{ id: number; fire_count: number }> {
  const res = await gateway.api.inject({ method: 'POST', url: '/api/rules', payload: rule });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

async function getRule(gateway: Gateway, id: number): Promise<{ fire_count: number; last_fired: string | null; when: { device: string } }> {
  return (await gateway.api.inject({ url: `/api/rules/${id}` })).json();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function events(tg: TestGateway, where: string): { type: string; cause: string; origin: string; detail: string | null }[] {
  const db = new Database(tg.config.database.path, { readonly: true });
  try {
    return db.prepare(`SELECT type, cause, origin, detail FROM events WHERE ${where} ORDER BY id`).all() as never;
  } finally {
    db.close();
  }
}

test('"if socket-1 power > 100 for 2 s then switch Kitchen off" fires once per crossing and is recorded', async (t) => {
  const { tg, gateway, plug } = await gatewayWithPlug(t);
  const socket = gateway.simSockets[0];
  socket.setLoad(20);
  const rule = await addRule(gateway, {
    name: 'washer overload',
    when: { device: 'socket-1', quantity: 'power', relation: '>', value: 100, for_s: 2 },
    then: { action: 'switch', device: 'Kitchen', state: 'off' },
  });

  // A spike shorter than the duration does not fire.
  socket.setLoad(300);
  await sleep(1000);
  socket.setLoad(20);
  await sleep(1500);
  assert.equal((await getRule(gateway, rule.id)).fire_count, 0, 'a 1 s spike is not 2 s');
  assert.equal(plug.relay, true);

  // First crossing: fires after holding 2 s, once, however long it stays over.
  const crossed = Date.now();
  socket.setLoad(300);
  await waitFor(() => !plug.relay, 4000, 'Kitchen switched off by the rule');
  assert.ok(Date.now() - crossed >= 1900, 'not before the 2 s');
  await gateway.api.inject({ method: 'PUT', url: '/api/devices/Kitchen/relay', payload: { on: true } });
  await sleep(2500);
  assert.equal(plug.relay, true, 'still over the limit, but the rule does not fire again');
  assert.equal((await getRule(gateway, rule.id)).fire_count, 1);

  // Back under re-arms; the second crossing fires again.
  socket.setLoad(20);
  await sleep(600);
  socket.setLoad(300);
  await waitFor(() => !plug.relay, 4000, 'Kitchen switched off by the second crossing');
  const after = await getRule(gateway, rule.id);
  assert.equal(after.fire_count, 2);
  assert.ok(after.last_fired && Date.now() - Date.parse(after.last_fired) < 3000);

  await waitFor(() => events(tg, `origin = 'rule:${rule.id}'`).length >= 4, 2000, 'events written');
  const recorded = events(tg, `origin = 'rule:${rule.id}'`);
  assert.deepEqual(
    recorded.map((e) => [e.type, e.cause]),
    [
      ['rule', 'washer overload: switch Kitchen off'],
      ['relay', 'off'],
      ['rule', 'washer overload: switch Kitchen off'],
      ['relay', 'off'],
    ],
  );
  assert.equal(JSON.parse(recorded[0].detail!).quantity, 'power');
  assert.ok(JSON.parse(recorded[0].detail!).value > 100);
  const metrics = await gateway.api.inject({ url: '/metrics' });
  assert.match(metrics.body, /canplug_rules_fired_total 2\b/);
});

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
  assert.equal(gateway.simSockets[1].relay, true);

  plug.loadWatts = 1500;
  await waitFor(() => !gateway.simSockets[1].relay, 3000, 'socket-2 opened by the rule');
  assert.equal((await getRule(gateway, overload.id)).fire_count, 1);
  assert.equal((await getRule(gateway, wentOff.id)).fire_count, 0);

  await gateway.api.inject({ method: 'PUT', url: '/api/devices/Kitchen/relay', payload: { on: false } });
  await waitFor(async () => (await getRule(gateway, wentOff.id)).fire_count === 1, 2000, '"changes to OFF" fired');
  await sleep(700);
  assert.equal((await getRule(gateway, wentOff.id)).fire_count, 1, 'once, though every broadcast says OFF');
  await waitFor(() => events(tg, `origin = 'rule:${wentOff.id}'`).length === 1, 2000, 'event written');
  assert.equal(events(tg, `origin = 'rule:${wentOff.id}'`)[0].cause, 'the kitchen plug went off');
});

test('the interlock wins over a rule, and the refusal is recorded with the rule id', async (t) => {
  const { tg, gateway } = await gatewayWithPlug(t);
  gateway.simSockets[0].setLoad(20);
  gateway.simSockets[1].setHumidity(90);
  await waitFor(() => gateway.registry.find('socket-2')?.state.nodeHumidityLatched, 2000, 'socket-2 latched');
  const rule = await addRule(gateway, {
    name: 'heater on with the washer',
    when: { device: 'socket-1', quantity: 'power', relation: '>', value: 100 },
    then: { action: 'switch', device: 'socket-2', state: 'on' },
  });
  gateway.simSockets[0].setLoad(300);
  const refusal = await waitFor(() => events(tg, `type = 'refusal' AND origin = 'rule:${rule.id}'`)[0], 3000, 'refusal recorded');
  assert.match(refusal.cause, /humidity interlock/);
  assert.equal(gateway.simSockets[1].relay, false);
  assert.equal((await getRule(gateway, rule.id)).fire_count, 1);
});

test('rules fire in order, publish to MQTT, respect time windows and can be disabled', async (t) => {
  const { tg, gateway } = await gatewayWithPlug(t);
  const mqtt = await recordingClient(gateway.mqttUrl(), ['home/#']);
  t.after(() => mqtt.client.endAsync());
  const socket = gateway.simSockets[0];
  socket.setLoad(20);
  const when = { device: 'socket-1', quantity: 'power', relation: '>', value: 100 };
  const hh = (d: Date) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  const now = new Date();
  const later = new Date(now.getTime() + 2 * 3600_000);
  const today = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][now.getDay()];

  const off = await addRule(gateway, { name: 'first off', when, then: { action: 'switch', device: 'socket-2', state: 'off' } });
  const on = await addRule(gateway, { name: 'then on', when, then: { action: 'switch', device: 'socket-2', state: 'on' } });
  const publish = await addRule(gateway, { name: 'tell', when, then: { action: 'publish', topic: 'home/washer', payload: 'busy', retain: true } });
  const notNow = await addRule(gateway, { name: 'window later', when, between: { from: hh(later), to: hh(new Date(later.getTime() + 60_000)) }, then: { action: 'event', message: 'x' } });
  const notToday = await addRule(gateway, { name: 'other day', when, days: [today === 'mon' ? 'tue' : 'mon'], then: { action: 'event', message: 'x' } });
  const inWindow = await addRule(gateway, { name: 'window now', when, between: { from: hh(new Date(now.getTime() - 3600_000)), to: hh(later) }, days: [today], then: { action: 'event', message: 'y' } });
  const disabled = await addRule(gateway, { name: 'disabled', enabled: false, when, then: { action: 'event', message: 'z' } });

  socket.setLoad(300);
  await waitFor(() => mqtt.messages.get('home/washer') === 'busy', 3000, 'published');
  await waitFor(async () => (await getRule(gateway, on.id)).fire_count === 1, 3000, 'the on rule fired');
  await waitFor(() => events(tg, "type = 'relay'").length >= 2, 2000, 'relay events written');
  assert.deepEqual(
    events(tg, "type = 'relay'").map((e) => [e.cause, e.origin]),
    [['off', `rule:${off.id}`], ['on', `rule:${on.id}`]],
    'switched in rule order',
  );
  assert.equal(gateway.simSockets[1].relay, true, 'the later rule in order wins');
  const counts = async (...ids: number[]) => Promise.all(ids.map(async (id) => (await getRule(gateway, id)).fire_count));
  assert.deepEqual(await counts(off.id, on.id, publish.id, notNow.id, notToday.id, inWindow.id, disabled.id), [1, 1, 1, 0, 0, 1, 0]);
  const late = await recordingClient(gateway.mqttUrl(), ['home/washer']);
  t.after(() => late.client.endAsync());
  await waitFor(() => late.log.find((m) => m.retain && m.payload === 'busy'), 2000, 'retained for a later subscriber');

  const enable = await gateway.api.inject({ method: 'PUT', url: `/api/rules/${disabled.id}`, payload: { name: 'disabled', enabled: true, when, then: { action: 'event', message: 'z' } } });
  assert.equal(enable.statusCode, 200, enable.body);
  await waitFor(async () => (await getRule(gateway, disabled.id)).fire_count === 1, 3000, 'enabled rule fires on the next reading');
});

test('schedules fire once in their minute on their days', async (t) => {
  const { gateway } = await gatewayWithPlug(t);
  const daily = await addRule(gateway, { name: 'morning', at: '07:00', then: { action: 'switch', device: 'socket-1', state: 'off' } });
  const weekend = await addRule(gateway, { name: 'weekend', at: '07:00', days: ['sat', 'sun'], then: { action: 'event', message: 'weekend' } });
  const friday = new Date(2026, 10, 20, 7, 0, 5); // a Friday, local time
  gateway.rules.runSchedule(new Date(2026, 10, 20, 6, 59, 59));
  assert.equal((await getRule(gateway, daily.id)).fire_count, 0);
  gateway.rules.runSchedule(friday);
  gateway.rules.runSchedule(new Date(2026, 10, 20, 7, 0, 40));
  await waitFor(() => !gateway.simSockets[0].relay, 2000, 'socket-1 switched off at 07:00');
  assert.equal((await getRule(gateway, daily.id)).fire_count, 1, 'once in the minute');
  assert.equal((await getRule(gateway, weekend.id)).fire_count, 0);
  gateway.rules.runSchedule(new Date(2026, 10, 21, 7, 0, 5));
  assert.equal((await getRule(gateway, daily.id)).fire_count, 2, 'again the next day');
  assert.equal((await getRule(gateway, weekend.id)).fire_count, 1);
});

test('rules follow a renamed device and survive a restart', async (t) => {
  const { tg, gateway } = await gatewayWithPlug(t);
  gateway.simSockets[0].setLoad(20);
  const rule = await addRule(gateway, {
    name: 'washer',
    when: { device: 'socket-1', quantity: 'power', relation: '>', value: 100 },
    then: { action: 'event', message: 'washing' },
  });
  gateway.registry.rename(gateway.registry.find('socket-1')!, 'washer');
  assert.equal((await getRule(gateway, rule.id)).when.device, 'washer');
  gateway.simSockets[0].setLoad(300);
  await waitFor(async () => (await getRule(gateway, rule.id)).fire_count === 1, 3000, 'fires after the rename');

  await gateway.stop();
  const { Gateway: GatewayClass } = await import('../../src/gateway/controller.js');
  const { silentLogger } = await import('../../src/log.js');
  const again = new GatewayClass({ config: tg.config, log: silentLogger });
  await again.start();
  t.after(() => again.stop());
  const listed = (await again.api.inject({ url: '/api/rules' })).json();
  assert.equal(listed.length, 1);
  assert.equal(listed[0].when.device, 'washer');
  assert.equal(listed[0].fire_count, 1);
});
