// The relay-confirm watchdog (safety.relay_confirm_s) with Wi-Fi plugs that broadcast as the original
// firmware does: no alarm on a healthy plug with the real 5 s period, none for a switch that was
// never sent, and still one for a plug that comes back closed after an open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/gateway.js';
import { assertFaithfulUse, wifiRig } from '../helpers/wifi-rig.js';
import type { LogEvent } from '../../src/gateway/events.js';

const STUCK = /still reports closed/;

test("with the firmware's 5 s broadcasts, an open sent right after a broadcast is confirmed about 5 s later and raises no alarm", async (t) => {
  // safety.relay_confirm_s: its default 3; udp.report_period_ms: the firmware's 5 s, as the plug broadcasts.
  const { tg, plugs, put } = await wifiRig(t, [{ name: 'Heater' }], { udp: { report_period_ms: 5000 } });
  const [plug] = plugs;
  const alarms: LogEvent[] = [];
  tg.gateway.parts.events.subscribe('test', { log: (e) => e.type === 'alarm' && alarms.push(e) });
  // The worst phase: the command lands just after a broadcast (the first one), so the next is a whole period away.
  plug.startBroadcasting(); // every 5000 ms
  await waitFor(() => tg.gateway.parts.registry.find('Heater')?.available, 2000, 'Heater online');
  const off = await put('Heater', false);
  assert.equal(off.statusCode, 200, JSON.stringify(off.body));
  assert.ok(off.ms > 3500, `confirmed by the next broadcast ${off.ms} ms later, past relay_confirm_s`);
  assert.equal(plug.relay, false);
  assert.deepEqual(alarms, []);
  assert.deepEqual(tg.gateway.parts.registry.find('Heater')!.state.problems, []);
  assertFaithfulUse(plugs);
});

test('an open refused because the plug is offline raises no alarm; a plug that reboots and comes back closed does, after relay_confirm_s plus two of its broadcast periods', async (t) => {
  const { tg, plugs, put, known } = await wifiRig(t, [{ name: 'Lamp' }, { name: 'Kettle' }], {
    safety: { relay_confirm_s: 0.5 },
    // The plugs broadcast every 500 ms, and the config says so: the alarm waits two of those periods, not 5 s ones.
    udp: { offline_timeout_ms: 1000, switch_timeout_ms: 3000, report_period_ms: 500 },
  });
  const [lamp, kettle] = plugs;
  const alarms: { device: string; at: number }[] = [];
  tg.gateway.parts.events.subscribe('test', {
    log: (e) => e.type === 'alarm' && STUCK.test(e.cause ?? '') && alarms.push({ device: e.device!.name, at: Date.now() }),
  });

  await known(lamp, 'Lamp');
  await waitFor(() => !tg.gateway.parts.registry.find('Lamp')!.available, 3000, 'Lamp offline');
  const refused = await put('Lamp', false);
  assert.equal(refused.statusCode, 409);
  assert.match(refused.body.error!, /Lamp is offline/);

  kettle.startBroadcasting(500);
  await waitFor(() => tg.gateway.parts.registry.find('Kettle')?.available, 2000, 'Kettle online');
  await tg.gateway.parts.api.inject({
    method: 'PATCH',
    url: '/api/devices/Kettle',
    headers: tg.auth,
    payload: { settings: { ws_port: kettle.wsPort } },
  });
  kettle.rebootOnSave = { when: 'before-flash', downMs: 500 };
  const sent = Date.now();
  const off = await put('Kettle', false);
  assert.equal(off.statusCode, 504, JSON.stringify(off.body));
  assert.equal(kettle.relay, true, 'it came back with the value in its flash: ON');

  // Both alarms would be due by now: the Lamp's (had its refusal counted) came first.
  const alarm = await waitFor(() => alarms.find((a) => a.device === 'Kettle'), 15_000, 'relay-stuck alarm for the Kettle');
  assert.deepEqual(
    alarms.filter((a) => a.device === 'Lamp'),
    [],
    'no command reached the Lamp, so no alarm',
  );
  const after = alarm.at - sent;
  assert.ok(after >= 1500, `alarm ${after} ms after the open: not before relay_confirm_s + two 500 ms periods`);
  assert.ok(after < 8000, `alarm ${after} ms after the open: two of the configured periods, not of the firmware's default 5 s`);
  assert.match(tg.gateway.parts.registry.find('Kettle')!.state.problems.join(), STUCK);
  assertFaithfulUse(plugs);
});
