import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { BatchWriter, type ReadingRow } from '../../src/db/writer.js';
import { parseConfig } from '../../src/config/config.js';
import { storedReadingsPolicy } from '../../src/db/writer.js';
import { silentLogger } from '../../src/log.js';
import { count, tempDatabase } from '../helpers/database.js';

const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);
const policy = storedReadingsPolicy(parseConfig({}).database)!;

function addDevices(db: Database.Database, n: number): void {
  const add = db.prepare("INSERT INTO devices (id, key, kind, name, created_at) VALUES (?, ?, 'can', ?, 0)");
  for (let d = 1; d <= n; d++) add.run(d, `can:${d}`, `socket-${d}`);
}

test('with the default policy a reading is stored when it moves beyond its deadband or a minute has passed; the rollups take every reading', (t) => {
  const { db } = tempDatabase(t);
  addDevices(db, 1);
  const writer = new BatchWriter(db, { flushIntervalMs: 60_000, storePolicy: policy, log: silentLogger });
  // Power frames every second for 3 minutes: 100 W with 1 W of noise, a step to 200 W at 90 s.
  const rows: ReadingRow[] = [];
  for (let s = 0; s < 180; s++)
    rows.push({
      deviceId: 1,
      ts: T0 + s * 1000,
      voltage: 230 + (s % 3) * 0.5,
      current: 0.43,
      power: (s < 90 ? 100 : 200) + (s % 2),
      relay: true,
    });
  for (const r of rows) writer.addReading(r);
  assert.ok(writer.flush());

  const stored = db.prepare('SELECT ts, power FROM readings ORDER BY ts').all() as { ts: number; power: number }[];
  assert.deepEqual(
    stored.map((r) => [(r.ts - T0) / 1000, r.power]),
    [
      [0, 100], // the first
      [60, 100], // a minute without a change beyond 2 W or 5 %
      [90, 200], // the step
      [150, 200], // a minute after the step
    ],
  );
  const minutes = db.prepare('SELECT n, power_min, power_max, power_sum, power_n FROM readings_1m ORDER BY t').all() as Record<
    string,
    number
  >[];
  assert.deepEqual(
    minutes.map((m) => m.n),
    [60, 60, 60],
    'every reading is counted in its minute',
  );
  assert.deepEqual(
    minutes.map((m) => [m.power_min, m.power_max]),
    [
      [1000, 1010],
      [1000, 2010],
      [2000, 2010],
    ],
    'min and max of every reading, in 0.1 W',
  );
  const exactSum = rows.slice(60, 120).reduce((sum, r) => sum + r.power! * 10, 0);
  assert.equal(minutes[1].power_sum, exactSum, 'the sum of every reading, not of the stored ones');
  assert.equal(writer.health().readingsWritten, 180);
  assert.equal(writer.health().rawRowsWritten, 4);
});

test('each frame kind of a device is stored at least every interval, and a relay change always is', (t) => {
  const { db } = tempDatabase(t);
  addDevices(db, 1);
  const writer = new BatchWriter(db, { flushIntervalMs: 60_000, storePolicy: policy, log: silentLogger });
  // Power and environment frames interleaved, nothing moving: each kind has its own minute.
  for (let s = 0; s <= 170; s++) {
    writer.addReading({ deviceId: 1, ts: T0 + s * 1000, voltage: 230, current: 0, power: 0, relay: s < 100 });
    writer.addReading({ deviceId: 1, ts: T0 + s * 1000 + 500, humidity: 50, temperature: 21 });
  }
  assert.ok(writer.flush());
  const stored = db.prepare('SELECT ts, power, humidity, relay FROM readings ORDER BY ts').all() as Record<string, number | null>[];
  const at = (kind: 'power' | 'humidity') => stored.filter((r) => r[kind] !== null).map((r) => (r.ts! - T0) / 1000);
  assert.deepEqual(at('power'), [0, 60, 100, 160], 'power frames: the first, a minute on, the relay opening at 100 s, a minute after that');
  assert.deepEqual(at('humidity'), [0.5, 60.5, 120.5], 'environment frames: their own minutes, whatever the power frames did');
  assert.equal(stored.find((r) => r.ts === T0 + 100_000)?.relay, 0);
});

test('every_reading stores every reading, a row per frame; a frame stored twice in one millisecond keeps one row', (t) => {
  const { db } = tempDatabase(t);
  addDevices(db, 1);
  const writer = new BatchWriter(db, { flushIntervalMs: 60_000, log: silentLogger });
  writer.addReading({ deviceId: 1, ts: T0, power: 5, voltage: 230.04 });
  writer.addReading({ deviceId: 1, ts: T0, humidity: 40.06 }); // another frame in the same millisecond
  writer.addReading({ deviceId: 1, ts: T0 + 1, power: 5 });
  assert.ok(writer.flush());
  writer.addReading({ deviceId: 1, ts: T0 + 1, power: 6 }); // the same frame again, a later commit
  assert.ok(writer.flush());
  assert.deepEqual(db.prepare('SELECT ts - ? AS dt, kind, power, voltage, humidity FROM readings ORDER BY ts, kind').all(T0), [
    { dt: 0, kind: 5, power: 5, voltage: 230, humidity: null },
    { dt: 0, kind: 16, power: null, voltage: null, humidity: 40.1 },
    { dt: 1, kind: 4, power: 6, voltage: null, humidity: null },
  ]);
  assert.equal(db.prepare('SELECT sum(n) FROM readings_1m').pluck().get(), 4);
});

test('readings wait for the commit interval; an event is committed at once, with what was pending', async (t) => {
  const { db, path } = tempDatabase(t);
  addDevices(db, 1);
  const writer = new BatchWriter(db, { flushIntervalMs: 60_000, storePolicy: policy, log: silentLogger });
  writer.start();
  t.after(() => writer.stop());
  const other = new Database(path, { readonly: true });
  t.after(() => other.close());
  const stored = (table: 'readings' | 'readings_1m' | 'events') => other.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;

  writer.addReading({ deviceId: 1, ts: Date.now(), power: 10 });
  writer.addEnergy({ deviceId: 1, offsetWh: 7, lastWh: 1234 });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(stored('readings'), 0, 'not committed before the interval');
  assert.equal(other.prepare('SELECT last_energy_wh FROM devices').pluck().get(), null, 'nor the energy total');

  writer.addEvent({ ts: Date.now(), deviceId: 1, type: 'trip', cause: 'humidity 85 %RH', origin: 'gateway' });
  await new Promise((r) => setImmediate(r));
  assert.equal(stored('events'), 1, 'the event is in the database one tick later');
  assert.equal(stored('readings'), 1, 'with the reading that was pending');
  assert.equal(stored('readings_1m'), 1);
  assert.deepEqual(
    other.prepare('SELECT energy_offset_wh AS o, last_energy_wh AS w FROM devices').get(),
    { o: 7, w: 1234 },
    'and the energy total, in the same commit',
  );
});

test('while the database refuses writes every reading stays in the rollups; past the bound the oldest minutes are given up and counted', (t) => {
  const { db } = tempDatabase(t);
  addDevices(db, 2);
  const writer = new BatchWriter(db, { flushIntervalMs: 60_000, storePolicy: policy, maxPending: 100, log: silentLogger });
  db.pragma('query_only = ON');
  // Two devices, one reading every 10 s for 100 minutes: 200 device-minutes, twice the bound.
  for (let s = 0; s < 6000; s += 10) for (const deviceId of [1, 2]) writer.addReading({ deviceId, ts: T0 + s * 1000, power: s % 7 });
  assert.equal(writer.flush(), false);
  assert.equal(writer.health().ok, false);
  db.pragma('query_only = OFF');
  assert.ok(writer.flush());
  const h = writer.health();
  assert.ok(h.readingsDropped > 0 && h.readingsDropped % 12 === 0, `whole minutes given up (${h.readingsDropped} readings)`);
  assert.equal(h.readingsWritten + h.readingsDropped, 1200, 'every reading is written or counted as dropped');
  assert.equal(count(db, 'readings_1m'), 200 - h.readingsDropped / 6);
  assert.equal(db.prepare('SELECT sum(n) FROM readings_1m').pluck().get(), h.readingsWritten);
  assert.equal(
    db.prepare('SELECT min(t) FROM readings_1m').pluck().get(),
    T0 + (h.readingsDropped / 12) * 60_000,
    'the oldest minutes went first',
  );
});

test('a commit rewrites a few pages however many sockets report: the tables are ordered by time', (t) => {
  const { db, path } = tempDatabase(t);
  const sockets = 63;
  addDevices(db, sockets);
  // A day of history already there, so each socket's rows span many pages.
  const minute = db.prepare(
    'INSERT INTO readings_1m (t, device_id, n, power_min, power_max, power_sum, power_n) VALUES (?, ?, 60, 1000, 1010, 60300, 60)',
  );
  const raw = db.prepare('INSERT INTO readings (ts, device_id, kind, power) VALUES (?, ?, 4, 100)');
  db.transaction(() => {
    for (let t = T0 - 86_400_000; t < T0; t += 60_000) {
      for (let d = 1; d <= sockets; d++) {
        minute.run(t, d);
        raw.run(t, d);
      }
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.pragma('wal_autocheckpoint = 0'); // the WAL only grows: its size counts the pages each commit wrote
  const writer = new BatchWriter(db, { flushIntervalMs: 30_000, storePolicy: policy, log: silentLogger });
  const walPages = () => (statSync(`${path}-wal`).size - 32) / (4096 + 24);
  const frames: number[] = [];
  // 30 s commits of a full bus: a power and an environment frame per socket a second; steady loads, stored once a minute.
  for (let commit = 0; commit < 12; commit++) {
    for (let s = 0; s < 30; s++) {
      const ts = T0 + (commit * 30 + s) * 1000;
      for (let d = 1; d <= sockets; d++) {
        writer.addReading({ deviceId: d, ts, voltage: 230, current: 0.4, power: 100 + (s % 2), relay: true });
        writer.addReading({ deviceId: d, ts: ts + 500, humidity: 40, temperature: 20 });
      }
    }
    const before = walPages();
    assert.ok(writer.flush());
    frames.push(Math.round(walPages() - before));
  }
  const rows = db.prepare('SELECT count(*) FROM readings').pluck().get() as number;
  const steady = frames.slice(4);
  t.diagnostic(`pages per commit: ${frames.join(', ')}; ${rows} raw rows`);
  // Ordered by device (migration 003's layout) the same commits rewrote 66 pages, and 166-192 when a minute began.
  assert.ok(Math.max(...steady) <= 24, `pages per commit ${frames.join(', ')} for ${sockets} sockets (${rows} raw rows in all)`);
});
