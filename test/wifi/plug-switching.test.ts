// Switching Wi-Fi plugs against an emulation of the original firmware (test/helpers/wifi-plug.ts):
// answers lost or dropped, thing 1 holding other floats, plugs swapping addresses or sharing one,
// a plug rebooting in the middle of a switch. Every test ends by checking that canplug used the
// firmware only in ways it defines (assertFaithfulUse).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { memoryLogger, recordingClient, waitFor } from '../helpers/gateway.js';
import { assertFaithfulUse, wifiRig } from '../helpers/wifi-rig.js';
import { freeTcpPort, sendDatagram, type FakeWifiPlug } from '../helpers/wifi-plug.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const saves = (plug: FakeWifiPlug) => plug.commands.filter((c) => c.includes('save_thing'));

test('a switch asks the plug who it is, keeps its override flag, answers once a broadcast shows it and publishes one MQTT state', async (t) => {
  const { tg, plugs, put, known } = await wifiRig(t, [{ name: 'Kitchen' }]);
  const [plug] = plugs;
  await known(plug, 'Kitchen');
  const mqtt = await recordingClient(tg.gateway.mqttUrl(), ['canplug/Kitchen']);
  t.after(() => mqtt.client.endAsync());
  await waitFor(() => mqtt.log.length > 0, 2000, 'retained state');
  const before = mqtt.log.length;

  const off = put('Kitchen', false);
  await waitFor(() => !plug.relay, 2000, 'the plug applied save_thing');
  await sleep(100);
  assert.equal(mqtt.log.length, before, 'nothing published before the plug shows the switch');
  await plug.broadcast(); // the firmware's next 5 s broadcast
  const res = await off;
  assert.equal(res.statusCode, 200, JSON.stringify(res.body));
  assert.equal(res.body.state?.state, 'OFF');
  assert.equal(res.body.state?.power, 0, 'the confirming broadcast carried the new power');
  await sleep(300);
  const states = mqtt.log.slice(before).map((m) => JSON.parse(m.payload).state);
  assert.deepEqual(states, ['OFF'], 'one state for one switch');

  assert.deepEqual(
    plug.commands.map((c) => JSON.parse(c)),
    [{ command: 'request_things' }, { command: 'save_thing', thing: '{"id":1,"type":1,"value":0,"override":false}' }],
  );
  assert.equal(plug.override, false, 'its page still shows "Override Off"');
  assertFaithfulUse(plugs);
});

test('a lost answer: 200 as soon as a broadcast shows the switch, whether the connection stays open or drops', async (t) => {
  // A long node name: its thing_update pushes overflow the firmware's buffer and arrive cut short.
  const name = 'Kitchen plug by the window';
  const { tg, plugs, put } = await wifiRig(t, [{ name }]);
  const [plug] = plugs;
  plug.startBroadcasting(500);
  await waitFor(() => tg.gateway.parts.registry.find(name)?.available, 2000, 'plug online');

  plug.answer = 'lose';
  const off = await put(name, false);
  assert.equal(off.statusCode, 200, JSON.stringify(off.body));
  assert.ok(off.ms < 3000, `answered after ${off.ms} ms; the switch timeout is 11000 ms`);
  assert.equal(plug.relay, false);
  assert.ok(plug.thingUpdates.sent >= 2 && plug.thingUpdates.cut >= 1, 'thing_update pushes, some cut short, arrived on the open socket');

  plug.answer = 'drop';
  const on = await put(name, true);
  assert.equal(on.statusCode, 200, JSON.stringify(on.body));
  assert.equal(on.body.state?.state, 'ON');
  assert.equal(plug.relay, true);
  assertFaithfulUse(plugs);
});

test("thing 1 holding 2, stored by the plug's own page, keeps the plug online and ON; canplug switches it off and keeps the page's override", async (t) => {
  const { tg, plugs, put } = await wifiRig(t, [{ name: 'Heater', relay: false }], { udp: { offline_timeout_ms: 1000 } });
  const [plug] = plugs;
  plug.startBroadcasting(200);
  await waitFor(() => tg.gateway.parts.registry.find('Heater')?.state.relay === false, 2000, 'Heater OFF');

  // index.htm sends the thing as an object; ArduinoJson's as<String>() turns it back into text.
  const page = new WebSocket(`ws://127.0.0.1:${plug.wsPort}/ws`);
  await once(page, 'open');
  const text = JSON.stringify({
    command: 'save_thing',
    thing: { id: 1, name: 'Plug', type: 1, value: 2, override: true, last_updated: 0 },
  });
  page.send(text);
  await once(page, 'message');
  page.close();
  plug.commands.splice(plug.commands.indexOf(text), 1); // the page's command, not canplug's
  assert.equal(plug.plugValue, 2);
  assert.equal(plug.relay, true);

  await sleep(1500); // past the offline timeout
  const device = tg.gateway.parts.registry.find('Heater')!;
  assert.equal(device.available, true, 'still online');
  const view = (await tg.gateway.parts.api.inject({ url: '/api/devices/Heater' })).json();
  assert.equal(view.state.state, 'ON');
  assert.equal(tg.gateway.parts.wifi.counters.malformed, 0);

  const off = await put('Heater', false);
  assert.equal(off.statusCode, 200, JSON.stringify(off.body));
  assert.equal(plug.plugValue, 0);
  assert.equal(plug.override, true, "the page's own override flag is left as it was");
  assertFaithfulUse(plugs);
});

test('after a DHCP address swap nothing is switched until each plug has broadcast from its new address', async (t) => {
  const wsPort = await freeTcpPort(); // both web servers on one port, as on port 80
  const { plugs, put, known } = await wifiRig(t, [
    { name: 'Lamp', host: '127.0.0.2', wsPort, relay: false },
    { name: 'Fridge', host: '127.0.0.3', wsPort },
  ]);
  const [lamp, fridge] = plugs;
  await known(lamp, 'Lamp');
  await known(fridge, 'Fridge');

  await lamp.moveTo('127.0.0.4');
  await fridge.moveTo('127.0.0.2');
  await lamp.moveTo('127.0.0.3');
  const refused = put('Lamp', false); // to the Lamp's old address, now the Fridge's
  await sleep(300);
  await lamp.broadcast(); // from its new address, still OFF
  const res = await refused;
  assert.equal(res.statusCode, 409, JSON.stringify(res.body));
  assert.match(res.body.error!, /the plug at ws:\/\/127\.0\.0\.2:\d+\/ws is chip 1234568 \("Fridge"\), not chip 1234567; nothing was sent/);
  assert.equal(fridge.relay, true, 'the fridge stayed on');
  assert.deepEqual(saves(fridge), []);

  lamp.startBroadcasting(200);
  const on = await put('Lamp', true);
  assert.equal(on.statusCode, 200, JSON.stringify(on.body));
  assert.equal(lamp.relay, true);
  assert.equal(fridge.relay, true);
  assertFaithfulUse(plugs);
});

test('two plugs behind one address: the ws_port setting reaches each; without it the wrong one is refused', async (t) => {
  const { tg, plugs, put, known } = await wifiRig(t, [{ name: 'Lamp' }, { name: 'Fridge' }]);
  const [lamp, fridge] = plugs;
  // udp.ws_port is the Lamp's port: the Fridge's broadcasts come from the same address.
  await known(lamp, 'Lamp');
  await known(fridge, 'Fridge');
  const patch = (name: string, settings: object) =>
    tg.gateway.parts.api.inject({ method: 'PATCH', url: `/api/devices/${name}`, headers: tg.auth, payload: { settings } });

  const wrong = await put('Fridge', false);
  assert.equal(wrong.statusCode, 409);
  assert.match(wrong.body.error!, /is chip 1234567 \("Lamp"\), not chip 1234568; nothing was sent/);
  assert.equal(lamp.relay, true);

  const set = await patch('Fridge', { ws_port: fridge.wsPort });
  assert.equal(set.statusCode, 200, set.body);
  assert.equal(set.json().settings.ws_port, fridge.wsPort);
  fridge.startBroadcasting(200);
  const off = await put('Fridge', false);
  assert.equal(off.statusCode, 200, JSON.stringify(off.body));
  assert.equal(fridge.relay, false);
  assert.equal(lamp.relay, true);

  const can = await patch('socket-1', { ws_port: 8080 });
  assert.equal(can.statusCode, 400);
  assert.match(can.json().error, /socket-1 is a can device; only Wi-Fi plugs take ws_port/);
  const zero = await patch('Fridge', { ws_port: 0 });
  assert.equal(zero.statusCode, 400);
  assert.match(zero.json().error, /ws_port/);
  assertFaithfulUse(plugs);
});

test('a plug rebooting in the middle of a switch: confirmed when it comes back switched, 504 when it comes back as it was', async (t) => {
  const { tg, plugs, put } = await wifiRig(t, [{ name: 'Kettle' }], { udp: { switch_timeout_ms: 3000 } });
  const [plug] = plugs;
  plug.startBroadcasting(300);
  await waitFor(() => tg.gateway.parts.registry.find('Kettle')?.available, 2000, 'Kettle online');

  // Stored in flash before the reset: it boots switched off.
  plug.rebootOnSave = { when: 'after-flash', downMs: 800 };
  const off = await put('Kettle', false);
  assert.equal(off.statusCode, 200, JSON.stringify(off.body));
  assert.ok(off.ms >= 700, `confirmed by the broadcast after the reboot (${off.ms} ms)`);
  assert.equal(plug.relay, false);

  // Reset before the flash write: it boots with the old value, so the switch never shows.
  plug.rebootOnSave = { when: 'before-flash', downMs: 800 };
  const on = await put('Kettle', true);
  assert.equal(on.statusCode, 504, JSON.stringify(on.body));
  assert.match(on.body.error!, /Kettle did not confirm: no broadcast showing it ON within 3000 ms/);
  assert.equal(plug.relay, false);
  assert.equal(tg.gateway.parts.registry.find('Kettle')!.state.relay, false);

  const again = await put('Kettle', true);
  assert.equal(again.statusCode, 200, JSON.stringify(again.body));
  assertFaithfulUse(plugs);
});

test('failures say what happened: no broadcast (504), no web server (409), no answer to request_things (504), a full flash (200, warned)', async (t) => {
  const { log, lines } = memoryLogger('warn');
  const { tg, plugs, put } = await wifiRig(t, [{ name: 'Kitchen' }], { udp: { switch_timeout_ms: 1000 } }, log);
  const [plug] = plugs;
  plug.startBroadcasting(200);
  await waitFor(() => tg.gateway.parts.registry.find('Kitchen')?.available, 2000, 'Kitchen online');

  plug.flashWorks = false;
  const full = await put('Kitchen', false);
  assert.equal(full.statusCode, 200);
  assert.ok(lines().some((l) => l.device === 'Kitchen' && /could not store the state in its flash/.test(String(l.msg))));
  plug.flashWorks = true;

  plug.stopBroadcasting();
  const unseen = await put('Kitchen', true);
  assert.equal(unseen.statusCode, 504);
  assert.match(unseen.body.error!, /Kitchen did not confirm: no broadcast showing it ON within 1000 ms/);

  // A web server that takes the connection and never answers.
  const mute = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
  await once(mute, 'listening');
  t.after(() => new Promise((resolve) => mute.close(resolve)));
  const mutePort = (mute.address() as AddressInfo).port;
  await tg.gateway.parts.api.inject({
    method: 'PATCH',
    url: '/api/devices/Kitchen',
    headers: tg.auth,
    payload: { settings: { ws_port: mutePort } },
  });
  await plug.broadcast();
  const silent = await put('Kitchen', false);
  assert.equal(silent.statusCode, 504);
  assert.match(
    silent.body.error!,
    new RegExp(`Kitchen: the plug at ws://127\\.0\\.0\\.1:${mutePort}/ws did not answer request_things within 1000 ms; nothing was sent`),
  );

  await plug.stop();
  await tg.gateway.parts.api.inject({
    method: 'PATCH',
    url: '/api/devices/Kitchen',
    headers: tg.auth,
    payload: { settings: { ws_port: plug.wsPort } },
  });
  await sendDatagram(tg.gateway.parts.wifi.port!, plug.datagram()); // still broadcasting, its web server gone
  const unreachable = await put('Kitchen', false);
  assert.equal(unreachable.statusCode, 409);
  assert.match(unreachable.body.error!, /cannot reach the plug at ws:\/\/127\.0\.0\.1:\d+\/ws/);
  assertFaithfulUse(plugs);
});
