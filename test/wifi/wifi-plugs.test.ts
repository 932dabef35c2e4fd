import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { recordingClient, startGateway, waitFor, type TestGateway, authHeaders } from '../helpers/gateway.js';
import { FakeWifiPlug, freeUdpPort, sendDatagram } from '../helpers/wifi-plug.js';
import type { Config } from '../../src/config/config.js';
import type { DeviceView } from '../../src/contracts/device.js';

// As the firmware prints it: floats with two decimals, its clock as H:MM:SS - D.M.YYYY.
const BAR_DATAGRAM = '1234567:Kitchen&1:1.00&2:318.50&3:0.90&4:10:00:07 - 22.11.2026';

async function gatewayWithUdp(
  t: { after: (fn: () => Promise<unknown>) => void },
  udp: Partial<Config['udp']> = {},
): Promise<TestGateway & { port: number }> {
  const port = await freeUdpPort();
  const tg = await startGateway({ udp: { port, host: '127.0.0.1', ...udp } });
  t.after(() => tg.stop());
  assert.equal(tg.gateway.parts.wifi.port, port, 'the listener is bound');
  return { ...tg, port };
}

test('a broadcast in the original format makes the plug visible in REST and MQTT within 1 s, and its reading is stored', async (t) => {
  const tg = await gatewayWithUdp(t);
  const { gateway } = tg;
  const mqtt = await recordingClient(gateway.mqttUrl(), ['canplug/Kitchen', 'canplug/Kitchen/availability']);
  t.after(() => mqtt.client.endAsync());

  const sent = Date.now();
  await sendDatagram(tg.port, BAR_DATAGRAM);
  const rest = await waitFor(
    async () => {
      const res = await gateway.parts.api.inject({ url: '/api/devices/Kitchen' });
      return res.statusCode === 200 ? (res.json() as DeviceView & { state: Record<string, unknown> }) : undefined;
    },
    1000,
    'Kitchen in REST',
  );
  await waitFor(() => mqtt.messages.has('canplug/Kitchen'), 1000, 'Kitchen state on MQTT');
  assert.ok(Date.now() - sent < 1000);

  assert.equal(rest.key, 'wifi:1234567');
  assert.equal(rest.kind, 'wifi');
  assert.equal(rest.available, true);
  assert.equal(rest.model, 'ESP8266 AsyncSmartPlug');
  assert.equal(rest.state.state, 'ON');
  assert.equal(rest.state.power, 318.5);
  assert.equal(rest.state.energy, undefined, "the plug's estimate is not passed off as a kWh meter");
  assert.equal(rest.state.plug_energy_estimate_wh, 0.9);
  assert.equal(rest.state.plug_clock, '10:00:07 - 22.11.2026');
  const state = JSON.parse(mqtt.messages.get('canplug/Kitchen')!);
  assert.equal(state.state, 'ON');
  assert.equal(state.power, 318.5);
  await waitFor(() => mqtt.messages.get('canplug/Kitchen/availability') === 'online', 1000, 'availability online');

  await waitFor(() => gateway.parts.writer.health().readingsWritten > 0, 2000);
  const db = new Database(tg.config.database.path, { readonly: true });
  t.after(() => db.close());
  const row = await waitFor(
    () =>
      db.prepare("SELECT r.power, r.relay FROM readings r JOIN devices d ON d.id = r.device_id WHERE d.key = 'wifi:1234567'").get() as
        | { power: number; relay: number }
        | undefined,
    2000,
    'reading row',
  );
  assert.deepEqual(row, { power: 318.5, relay: 1 });

  const metrics = await gateway.parts.api.inject({ url: '/metrics' });
  assert.match(metrics.body, /canplug_udp_datagrams_received_total 1\b/);
  assert.match(metrics.body, /canplug_udp_datagrams_malformed_total 0\b/);
});

test('malformed datagrams leave no device behind, are counted, and the listener keeps working', async (t) => {
  const tg = await gatewayWithUdp(t);
  const { gateway } = tg;
  const before = gateway.parts.registry.list().map((d) => d.key);
  const junk: (string | Buffer)[] = [
    '1234567Kitchen&1:1&2:118.5', // missing ":" after the chip id
    '1234567:Kitchen', // no things
    '1234567:Kitchen&1&2', // things without ":"
    '1234567:Kitchen&1:on&2:118.5', // non-numeric value
    '1234567:Kitchen&2:NaN',
    'Kitchen:1234567&1:1',
    `1234567:Kitchen${'&2:1'.repeat(400)}`, // oversize
    Buffer.alloc(2000, 0x41),
    Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x3a, 0x26]), // binary junk
    Buffer.alloc(0),
  ];
  for (let i = 0; i < 20; i++) junk.push(randomBytes(1 + i * 7));
  for (const payload of junk) await sendDatagram(tg.port, payload);
  await waitFor(() => gateway.parts.wifi.counters.received === junk.length, 2000, 'all datagrams received');
  assert.equal(gateway.parts.wifi.counters.malformed, junk.length);
  assert.deepEqual(
    gateway.parts.registry.list().map((d) => d.key),
    before,
    'no device was created',
  );
  const metrics = await gateway.parts.api.inject({ url: '/metrics' });
  assert.match(metrics.body, new RegExp(`canplug_udp_datagrams_malformed_total ${junk.length}\\b`));
  const health = (await gateway.parts.api.inject({ url: '/api/health' })).json();
  assert.equal(health.status, 'ok');
  assert.equal(health.udp.malformed, junk.length);

  await sendDatagram(tg.port, BAR_DATAGRAM);
  await waitFor(() => gateway.parts.registry.find('Kitchen'), 1000, 'a good datagram after the junk');
});

test('a plug goes offline when its broadcasts stop and comes back with the next one; udp.max_plugs caps new plugs', async (t) => {
  const tg = await gatewayWithUdp(t, { offline_timeout_ms: 600, report_period_ms: 150, max_plugs: 1 });
  const plug = new FakeWifiPlug({ chipId: 42, name: 'Heater', gatewayPort: tg.port, relay: true });
  await plug.start();
  t.after(() => plug.stop());
  plug.startBroadcasting(150);
  const device = await waitFor(
    () => tg.gateway.parts.registry.find('Heater')?.available && tg.gateway.parts.registry.find('Heater'),
    2000,
    'Heater online',
  );
  await new Promise((r) => setTimeout(r, 900));
  assert.ok(device.available, 'regular broadcasts keep it online past the timeout');
  plug.stopBroadcasting();
  await waitFor(() => !device.available, 3000, 'Heater offline');
  const refused = await tg.gateway.parts.api.inject({
    headers: authHeaders(tg.gateway),
    method: 'PUT',
    url: '/api/devices/Heater/relay',
    payload: { on: false },
  });
  assert.equal(refused.statusCode, 409);
  assert.match(refused.json().error, /Heater is offline/);
  await plug.broadcast();
  await waitFor(() => device.available, 2000, 'Heater online again');

  await sendDatagram(tg.port, '43:Second&1:0.00&2:0.00');
  await waitFor(() => tg.gateway.parts.wifi.counters.ignored === 1, 1000, 'second plug ignored');
  assert.equal(tg.gateway.parts.registry.find('Second'), undefined);
});

test('a UDP port already in use is reported in health and retried; the rest of the gateway runs, plugs are heard once it is free', async (t) => {
  const port = await freeUdpPort();
  const { createSocket } = await import('node:dgram');
  const holder = createSocket('udp4');
  await new Promise<void>((resolve) => holder.bind(port, '127.0.0.1', () => resolve()));
  const tg = await startGateway({ udp: { port, host: '127.0.0.1' } });
  t.after(() => tg.stop());
  const health = (await tg.gateway.parts.api.inject({ url: '/api/health' })).json();
  assert.equal(health.status, 'degraded');
  assert.equal(health.failed_features, undefined, 'not given up');
  assert.match(health.udp.error, /EADDRINUSE/);
  assert.deepEqual(health.problems, [`the Wi-Fi plug listener is not listening (${health.udp.error}); retrying`]);
  assert.equal(health.udp.listening, false);
  await waitFor(() => tg.gateway.parts.registry.find('socket-1'), 3000, 'CAN side still works');

  await new Promise<void>((resolve) => holder.close(() => resolve()));
  await waitFor(() => tg.gateway.parts.wifi.stats().listening, 5000, 'listening once the port is free');
  await sendDatagram(port, BAR_DATAGRAM);
  await waitFor(() => tg.gateway.parts.registry.find('Kitchen'), 2000, 'a plug heard');
  assert.equal(tg.gateway.health().status, 'ok');
});

test("a sender flooding one plug's datagrams gets one reading stored per report period; the excess is counted, not written", async (t) => {
  const tg = await gatewayWithUdp(t, { report_period_ms: 2000 });
  const { gateway } = tg;
  let applied = 0;
  t.after(gateway.parts.events.subscribe('test', { reading: (r) => void (r.device.key === 'wifi:777' && applied++) }));
  const { createSocket } = await import('node:dgram');
  const sender = createSocket('udp4');
  t.after(() => sender.close());
  const send = (text: string) =>
    new Promise<void>((resolve, reject) => sender.send(text, tg.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  const started = performance.now();
  // A spoofed plug at up to about 5,000 datagrams/s (the rate) for 3 s, every datagram different.
  let sent = 0;
  while (performance.now() - started < 3000) {
    await Promise.all(Array.from({ length: 50 }, () => send(`777:Spoofed&1:1&2:${(sent++ % 1000) + 0.5}`)));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const seconds = (performance.now() - started) / 1000;
  await waitFor(() => gateway.parts.wifi.counters.received > 1000, 5000, 'datagrams received');
  await new Promise((resolve) => setTimeout(resolve, 200)); // the last ones still in the socket
  const { received, excess } = gateway.parts.wifi.counters;
  assert.ok(
    applied >= 1 && applied <= Math.ceil(seconds / 1.8) + 1,
    `${applied} readings from ${received} datagrams in ${seconds.toFixed(1)} s`,
  );
  assert.equal(excess, received - applied, 'every datagram not applied is counted as excess');
  gateway.parts.writer.flush();
  const device = gateway.parts.registry.find('Spoofed')!;
  const db = new Database(tg.config.database.path, { readonly: true });
  t.after(() => db.close());
  const stored = (db.prepare('SELECT count(*) AS n FROM readings WHERE device_id = ?').get(device.id) as { n: number }).n;
  assert.ok(stored <= applied, `${stored} rows stored`);
  const health = (await gateway.parts.api.inject({ url: '/api/health' })).json();
  assert.equal(health.udp.excess, excess);
  assert.match(await gateway.parts.metrics.text(), new RegExp(`canplug_udp_datagrams_excess_total ${excess}`));
  t.diagnostic(
    `${received} datagrams in ${seconds.toFixed(1)} s from one spoofed plug: ${applied} applied, ${stored} rows stored, ${excess} counted as excess`,
  );
});

test('udp.port 0 disables the listener', async (t) => {
  const tg = await startGateway({ udp: { port: 0 } });
  t.after(() => tg.stop());
  assert.equal(tg.gateway.parts.wifi.port, undefined);
  assert.equal(tg.gateway.health().status, 'ok');
});
