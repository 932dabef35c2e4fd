import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { discoveredEntities, haView } from '../helpers/ha-rules.js';
import { startBroker } from '../helpers/broker.js';

const NODES = [1, 2, 3];
const REPORT_MS = 200;

/** The retained topics a client connecting now would get. */
async function retainedNow(url: string): Promise<Map<string, string>> {
  const view = await haView(url);
  await new Promise((r) => setTimeout(r, 300));
  await view.close();
  const retained = new Map<string, string>();
  for (const m of view.log) if (m.retain && m.payload !== '') retained.set(m.topic, m.payload);
  return retained;
}

test('the broker restarted mid-run: no SQLite reading lost while it is away, every retained topic back within 3 s of its return', async (t) => {
  const mosquitto = await startBroker();
  t.after(() => mosquitto.close());
  // Every reading stored as a raw row: the test matches them one by one with what the gateway produced.
  const tg = await startGateway({
    can: { sim: { nodes: NODES, report_period_ms: REPORT_MS } },
    mqtt: { url: mosquitto.url },
    database: { store: { every_reading: true } },
  });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const readingTimes = new Map<string, number[]>();
  t.after(
    gateway.parts.events.subscribe('test', {
      reading: (r) => {
        if (!readingTimes.has(r.device.name)) readingTimes.set(r.device.name, []);
        readingTimes.get(r.device.name)!.push(r.ts);
      },
    }),
  );

  const ha = await haView(mosquitto.url);
  const expectedConfigs = NODES.length * (14 + 1) + 2; // + each socket's firmware update entity, + the bridge's two
  await waitFor(
    () =>
      discoveredEntities(ha.topics).length === expectedConfigs &&
      NODES.every((n) => ha.topics.get(`canplug/socket-${n}/availability`) === 'online' && ha.topics.has(`canplug/socket-${n}`)) &&
      ha.topics.has('canplug/bridge/devices') &&
      ha.topics.has('canplug/bridge/info'),
    8000,
    'everything published',
  );
  await ha.close();
  const before = await retainedNow(mosquitto.url);
  const expected = [...before.keys()].sort();
  assert.ok(expected.length >= expectedConfigs + 2 * NODES.length + 3, `retained before the restart: ${expected.length}`);

  // The broker goes away for 2 s; the gateway keeps measuring and storing.
  await mosquitto.stop();
  const downAt = Date.now();
  await waitFor(() => !gateway.health().mqtt || !(gateway.health().mqtt as { connected: boolean }).connected, 3000, 'gateway notices');
  assert.equal(gateway.health().status, 'degraded');
  await new Promise((r) => setTimeout(r, 2000));
  await mosquitto.start();
  const backAt = performance.now();
  const upAt = Date.now();

  // An independent client subscribes as soon as the broker is back and waits for every retained topic.
  const after = await haView(mosquitto.url);
  t.after(() => after.close());
  await waitFor(() => expected.every((topic) => after.topics.has(topic)), 5000, `all ${expected.length} retained topics back`);
  const restoredMs = Math.max(...expected.map((topic) => after.log.find((m) => m.topic === topic && m.payload !== '')!.at)) - backAt;
  t.diagnostic(
    `all ${expected.length} retained topics back ${restoredMs.toFixed(0)} ms after ${mosquitto.name} accepted connections again`,
  );
  assert.ok(restoredMs < 3000, `took ${restoredMs} ms`);

  const retained = await retainedNow(mosquitto.url);
  assert.deepEqual(
    [...retained.keys()].filter((k) => !expected.includes(k)),
    [],
    'nothing unexpected retained',
  );
  assert.deepEqual(
    expected.filter((k) => !retained.has(k)),
    [],
    'every topic retained on the new broker',
  );
  assert.equal(retained.get('canplug/bridge/state'), 'online');
  for (const n of NODES) assert.equal(retained.get(`canplug/socket-${n}/availability`), 'online');
  for (const topic of expected.filter((k) => k.endsWith('/config')))
    assert.equal(retained.get(topic), before.get(topic), `${topic} same config`);

  // Readings: every one the gateway produced is in SQLite, and none is missing around the outage.
  await waitFor(() => gateway.health().status === 'ok', 3000, 'healthy again');
  gateway.parts.writer.flush();
  const produced = [...readingTimes.values()].reduce((n, list) => n + list.length, 0);
  const writer = gateway.parts.writer.health();
  const db = new Database(tg.config.database.path, { readonly: true });
  t.after(() => db.close());
  const stored = (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
  assert.equal(writer.readingsDropped, 0);
  assert.equal(writer.pending, 0);
  assert.equal(
    db.prepare('SELECT sum(n) FROM readings_1m').pluck().get(),
    writer.readingsWritten,
    'SQLite holds every reading the writer counted',
  );
  assert.ok(stored >= produced, `stored ${stored} < produced ${produced}`);
  for (const [name, times] of readingTimes) {
    const during = times.filter((ts) => ts >= downAt && ts <= upAt).length;
    assert.ok(during >= 2 * Math.floor((upAt - downAt) / REPORT_MS / 2), `${name}: only ${during} readings while the broker was away`);
    const ids = db
      .prepare('SELECT count(*) AS n FROM readings r JOIN devices d ON d.id = r.device_id WHERE d.name = ? AND r.ts BETWEEN ? AND ?')
      .get(name, downAt, upAt) as { n: number };
    assert.equal(ids.n, during, `${name}: readings taken while the broker was away are all in SQLite`);
  }
});
