import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, authHeaders } from '../helpers/gateway.js';
import { addRule, events, gatewayWithPlug, getRule, sleep } from '../helpers/rules.js';

test('"if socket-1 power > 100 for 2 s then switch Kitchen off" fires once per crossing and is recorded', async (t) => {
  const { tg, gateway, plug } = await gatewayWithPlug(t);
  const socket = gateway.parts.sim.sockets[0];
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
  // Switched at the plug, and confirmed by its next broadcast (before the next command would supersede it).
  await waitFor(
    () => !plug.relay && gateway.parts.registry.find('Kitchen')!.state.relay === false,
    4000,
    'Kitchen switched off by the rule',
  );
  assert.ok(Date.now() - crossed >= 1900, 'not before the 2 s');
  await gateway.parts.api.inject({
    headers: authHeaders(gateway),
    method: 'PUT',
    url: '/api/devices/Kitchen/relay',
    payload: { on: true },
  });
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
  const metrics = await gateway.parts.api.inject({ url: '/metrics' });
  assert.match(metrics.body, /canplug_rules_fired_total 2\b/);
});

test('the interlock wins over a rule, and the refusal is recorded with the rule id', async (t) => {
  const { tg, gateway } = await gatewayWithPlug(t);
  gateway.parts.sim.sockets[0].setLoad(20);
  gateway.parts.sim.sockets[1].setHumidity(90);
  await waitFor(() => gateway.parts.registry.find('socket-2')?.state.nodeHumidityLatched, 2000, 'socket-2 latched');
  const rule = await addRule(gateway, {
    name: 'heater on with the washer',
    when: { device: 'socket-1', quantity: 'power', relation: '>', value: 100 },
    then: { action: 'switch', device: 'socket-2', state: 'on' },
  });
  gateway.parts.sim.sockets[0].setLoad(300);
  const refusal = await waitFor(() => events(tg, `type = 'refusal' AND origin = 'rule:${rule.id}'`)[0], 3000, 'refusal recorded');
  assert.match(refusal.cause, /interlocked by the gateway: humidity 90 %RH/);
  assert.equal(gateway.parts.sim.sockets[1].relay, false);
  assert.equal((await getRule(gateway, rule.id)).fire_count, 1);
});
