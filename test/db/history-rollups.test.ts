import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { MIGRATIONS_DIR, openDatabase, type Db } from '../../src/db/database.js';
import { History } from '../../src/db/history.js';
import type { Bucket } from '../../src/gateway/storage.js';
import { BatchWriter, type ReadingRow } from '../../src/db/writer.js';
import { roundToStored } from '../../src/db/rollups.js';
import { QUANTITIES } from '../../src/contracts/vocabulary.js';
import { silentLogger } from '../../src/log.js';

const T0 = Date.UTC(2026, 0, 5, 22, 13, 7, 345);

/** The history as a user expects it: computed from the raw rows (at the stored resolution), one bucket per non-empty slot. */
function reference(rows: ReadingRow[], deviceId: number, from: number, to: number, bucketMs: number): Bucket[] {
  const buckets = new Map<number, { count: number; v: Record<string, number[]> }>();
  for (const r of rows) {
    if (r.deviceId !== deviceId || r.ts < from || r.ts >= to) continue;
    const t = r.ts - (r.ts % bucketMs);
    const b = buckets.get(t) ?? { count: 0, v: {} };
    b.count++;
    for (const q of QUANTITIES) if (r[q] !== undefined) (b.v[q] ??= []).push(roundToStored(q, r[q]!));
    buckets.set(t, b);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([t, b]) => ({
      t,
      count: b.count,
      values: Object.fromEntries(
        Object.entries(b.v).map(([q, xs]) => [
          q,
          { min: Math.min(...xs), avg: xs.reduce((s, x) => s + x, 0) / xs.length, max: Math.max(...xs) },
        ]),
      ),
    }));
}

/** `avgTolerance`: readings stored before migration 005 were not rounded, so their averages may differ by half the resolution. */
function assertSameBuckets(actual: Bucket[], expected: Bucket[], what: string, avgTolerance = 0): void {
  assert.deepEqual(
    actual.map((b) => [b.t, b.count]),
    expected.map((b) => [b.t, b.count]),
    `${what}: bucket starts and counts`,
  );
  actual.forEach((b, i) => {
    const e = expected[i];
    assert.deepEqual(Object.keys(b.values).sort(), Object.keys(e.values).sort(), `${what}: quantities at ${b.t}`);
    for (const [q, s] of Object.entries(b.values)) {
      const es = e.values[q as keyof Bucket['values']]!;
      assert.ok(Math.abs(s.min - es.min) < 1e-9, `${what}: ${q} min at ${b.t}: ${s.min} vs ${es.min}`);
      assert.ok(Math.abs(s.max - es.max) < 1e-9, `${what}: ${q} max at ${b.t}: ${s.max} vs ${es.max}`);
      assert.ok(
        Math.abs(s.avg - es.avg) <= avgTolerance + 1e-9 * Math.max(1, Math.abs(es.avg)),
        `${what}: ${q} avg at ${b.t}: ${s.avg} vs ${es.avg}`,
      );
    }
  });
}

function tempDb(t: { after(fn: () => void): void }): { db: Db; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-history-'));
  const db = openDatabase(join(dir, 'h.db'));
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { db, dir };
}

/** Two devices, frames every few seconds over about 30 hours, with gaps, power and environment frames apart. */
function sampleRows(): ReadingRow[] {
  const rows: ReadingRow[] = [];
  let ts = T0;
  for (let i = 0; i < 12_000; i++) {
    ts += 1 + ((i * 7919) % 17_000) + (i % 2000 === 0 ? 3_600_000 : 0);
    const deviceId = 1 + (i % 2);
    rows.push(
      i % 3 === 0
        ? { deviceId, ts, humidity: 40 + ((i * 13) % 50) / 3, temperature: 20 + (i % 7) / 10 }
        : { deviceId, ts, voltage: 229 + (i % 5) / 10, current: (i % 11) / 100, power: (i % 97) * 1.5, relay: i % 4 !== 0 },
    );
  }
  return rows;
}

function writeAll(db: Db, rows: ReadingRow[], batch = 700): void {
  const writer = new BatchWriter(db, { flushIntervalMs: 1000, log: silentLogger });
  for (let i = 0; i < rows.length; i += batch) {
    for (const r of rows.slice(i, i + batch)) writer.addReading(r);
    assert.ok(writer.flush());
  }
}

test('history from the rollups equals history computed from every raw reading', (t) => {
  const { db } = tempDb(t);
  const rows = sampleRows();
  writeAll(db, rows);
  const history = new History(db);
  const from = T0 + 1234;
  const to = rows.at(-1)!.ts - 98_765;
  // Hour multiples use the hourly rollup, minute multiples the per-minute one, 90 s and 7 s the raw readings.
  for (const bucketMs of [7_200_000, 3_600_000, 600_000, 60_000, 90_000, 7_000]) {
    for (const deviceId of [1, 2]) {
      assertSameBuckets(
        history.buckets({ deviceId, from, to, bucketMs }),
        reference(rows, deviceId, from, to, bucketMs),
        `bucket ${bucketMs} device ${deviceId}`,
      );
    }
  }
});

test('any range and bucket gives the same answer as the raw readings (property)', (t) => {
  const { db } = tempDb(t);
  const rows = sampleRows();
  writeAll(db, rows, 333);
  const history = new History(db);
  const span = rows.at(-1)!.ts - T0;
  fc.assert(
    fc.property(
      fc.integer({ min: -60_000, max: span }),
      fc.integer({ min: 1, max: span }),
      fc.constantFrom(60_000, 120_000, 300_000, 3_600_000, 10_800_000, 86_400_000, 45_000),
      (offset, length, bucketMs) => {
        const from = T0 + offset;
        const to = from + length;
        assertSameBuckets(
          history.buckets({ deviceId: 1, from, to, bucketMs }),
          reference(rows, 1, from, to, bucketMs),
          `[${from}, ${to}) by ${bucketMs}`,
        );
      },
    ),
    { numRuns: 60 },
  );
});

test('migration 003 builds the rollups from readings stored before it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-migrate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const only001 = join(dir, 'migrations');
  mkdirSync(only001);
  copyFileSync(join(MIGRATIONS_DIR, '001-initial.sql'), join(only001, '001-initial.sql'));
  const path = join(dir, 'old.db');
  const rows = sampleRows().slice(0, 3000);
  const old = openDatabase(path, { migrationsDir: only001 });
  const insert = old.prepare(
    'INSERT INTO readings (device_id, ts, voltage, current, power, energy, humidity, temperature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  old.transaction(() => {
    for (const r of rows)
      insert.run(r.deviceId, r.ts, r.voltage ?? null, r.current ?? null, r.power ?? null, null, r.humidity ?? null, r.temperature ?? null);
  })();
  old.close();

  const db = openDatabase(path, { backupBeforeMigrate: false });
  t.after(() => db.close());
  const history = new History(db);
  const to = rows.at(-1)!.ts + 1;
  assertSameBuckets(
    history.buckets({ deviceId: 2, from: T0, to, bucketMs: 3_600_000 }),
    reference(rows, 2, T0, to, 3_600_000),
    'hourly after migrating',
    0.05,
  );
  // New readings after the migration land in the same rollups.
  const more: ReadingRow[] = [{ deviceId: 2, ts: to + 10, power: 12345 }];
  writeAll(db, more);
  const last = history.buckets({ deviceId: 2, from: T0, to: to + 3_600_000, bucketMs: 3_600_000 }).at(-1)!;
  assert.equal(last.values.power?.max, 12345);
});

test('migration 005 keeps the last 7 days of raw readings, a row per frame, and the rollups to the stored resolution', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-migrate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const upTo004 = join(dir, 'migrations');
  mkdirSync(upTo004);
  for (const name of ['001-initial.sql', '002-rules.sql', '003-reading-rollups.sql', '004-mqtt-namespace.sql'])
    copyFileSync(join(MIGRATIONS_DIR, name), join(upTo004, name));
  const path = join(dir, 'old.db');
  const old = openDatabase(path, { migrationsDir: upTo004 });
  const newest = T0 + 20 * 86_400_000;
  // What the old writer stored: a row per frame, unrounded values, and its rollups.
  const rows: ReadingRow[] = [
    { deviceId: 1, ts: T0, power: 12.34, voltage: 230.06 }, // 20 days before the newest: only in the rollups afterwards
    { deviceId: 1, ts: newest - 7 * 86_400_000, power: 50 },
    { deviceId: 1, ts: newest - 60_000, power: 100.04, voltage: 229.96 },
    { deviceId: 1, ts: newest - 60_000, humidity: 41.26, temperature: 20.04 }, // the same millisecond
    { deviceId: 2, ts: newest, energy: 1.2344 },
  ];
  const insert = old.prepare(
    'INSERT INTO readings (device_id, ts, voltage, power, energy, humidity, temperature) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  for (const r of rows)
    insert.run(r.deviceId, r.ts, r.voltage ?? null, r.power ?? null, r.energy ?? null, r.humidity ?? null, r.temperature ?? null);
  const rollup = old.prepare(
    'INSERT INTO readings_1m (device_id, t, n, power_min, power_max, power_sum, power_n) VALUES (1, ?, 2, 12.34, 20.06, 32.4, 2)',
  );
  rollup.run(T0);
  old.close();

  const db = openDatabase(path, { backupBeforeMigrate: false });
  t.after(() => db.close());
  assert.deepEqual(
    db
      .prepare(
        'SELECT ts - ? AS dt, device_id, kind, voltage, power, energy, humidity, temperature FROM readings ORDER BY ts, device_id, kind',
      )
      .all(newest),
    [
      { dt: -7 * 86_400_000, device_id: 1, kind: 4, voltage: null, power: 50, energy: null, humidity: null, temperature: null },
      { dt: -60_000, device_id: 1, kind: 5, voltage: 230, power: 100, energy: null, humidity: null, temperature: null },
      { dt: -60_000, device_id: 1, kind: 48, voltage: null, power: null, energy: null, humidity: 41.3, temperature: 20 },
      { dt: 0, device_id: 2, kind: 8, voltage: null, power: null, energy: 1.234, humidity: null, temperature: null },
    ],
  );
  assert.deepEqual(
    db.prepare('SELECT n, power_min, power_max, power_sum, power_n FROM readings_1m WHERE t = ?').get(T0),
    {
      n: 2,
      power_min: 123,
      power_max: 201,
      power_sum: 324,
      power_n: 2,
    },
    'in 0.1 W',
  );
  const plan = db.prepare('EXPLAIN QUERY PLAN SELECT * FROM readings_1h WHERE device_id = 1 AND t >= 0 AND t < 1').all() as {
    detail: string;
  }[];
  assert.match(plan.map((p) => p.detail).join(' '), /readings_1h_device_t/, 'hours of one device come from their index');
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
});
