// Days are local days: pin a zone with a daylight-saving change (before any date is computed).
process.env.TZ = 'Europe/Berlin';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../src/db/database.js';
import { EnergyHistory } from '../../src/db/energy.js';
import { nextPeriod, periodStart } from '../../src/gateway/energy-periods.js';
import { BatchWriter, type ReadingRow } from '../../src/db/writer.js';
import { silentLogger } from '../../src/log.js';

function tempDb(t: { after(fn: () => void): void }): Db {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-energy-'));
  const db = openDatabase(join(dir, 'e.db'));
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return db;
}

function write(db: Db, rows: ReadingRow[]): void {
  const writer = new BatchWriter(db, { flushIntervalMs: 1000, log: silentLogger });
  for (const r of rows) writer.addReading(r);
  assert.ok(writer.flush());
}

/** A constant 1 kW load: the counter (kWh) grows by 1/60 every minute; one reading every `stepMin` minutes. */
function constantLoad(deviceId: number, from: number, to: number, stepMin: number, startKwh = 100): ReadingRow[] {
  const rows: ReadingRow[] = [];
  for (let ts = from; ts < to; ts += stepMin * 60_000) rows.push({ deviceId, ts, energy: startKwh + (ts - from) / 3_600_000 });
  return rows;
}

const local = (y: number, m: number, d: number, h = 0, min = 0) => new Date(y, m - 1, d, h, min).getTime();

test('local periods: days across daylight saving, weeks from Monday, months', () => {
  assert.equal(nextPeriod(local(2026, 3, 29), 'day') - local(2026, 3, 29), 23 * 3_600_000, 'the spring-forward day has 23 hours');
  assert.equal(nextPeriod(local(2026, 10, 25), 'day') - local(2026, 10, 25), 25 * 3_600_000, 'the fall-back day has 25 hours');
  assert.equal(periodStart(local(2026, 3, 29, 13), 'week'), local(2026, 3, 23), 'Sunday 29 March belongs to the week from Monday 23');
  assert.equal(periodStart(local(2026, 3, 23, 0, 1), 'week'), local(2026, 3, 23));
  assert.equal(periodStart(local(2026, 2, 28, 23, 59), 'month'), local(2026, 2, 1));
  assert.equal(nextPeriod(local(2026, 2, 1), 'month'), local(2026, 3, 1));
});

test('kWh per day follows the local calendar, including a 23-hour day', (t) => {
  const db = tempDb(t);
  write(db, constantLoad(1, local(2026, 3, 27), local(2026, 3, 31), 5));
  const days = new EnergyHistory(db).perPeriod(1, 'day', local(2026, 3, 27), local(2026, 3, 31));
  assert.deepEqual(
    days.map((d) => new Date(d.start).toString().slice(4, 15)),
    ['Mar 27 2026', 'Mar 28 2026', 'Mar 29 2026', 'Mar 30 2026'],
  );
  // A 1 kW load is 24 kWh a day. The first day starts at its first reading and ends at its last (23:55):
  // the 5 minutes to midnight are counted on the next day, with its first reading.
  assert.deepEqual(
    days.map((d) => d.kwh),
    [24 - 5 / 60, 24, 23, 24].map((x) => Math.round(x * 1000) / 1000),
  );
});

test('energy used across a gap at midnight is counted once, in the period of the next reading; periods add up to the counter', (t) => {
  const db = tempDb(t);
  const rows = [
    ...constantLoad(1, local(2026, 6, 1, 12), local(2026, 6, 1, 22, 1), 60),
    // Nothing from 22:00 to 03:00 (gateway down), but the node's counter kept counting.
    ...constantLoad(1, local(2026, 6, 2, 3), local(2026, 6, 2, 20), 60, 100 + 15),
  ];
  write(db, rows);
  const days = new EnergyHistory(db).perPeriod(1, 'day', local(2026, 5, 31), local(2026, 6, 4));
  assert.deepEqual(
    days.map((d) => d.kwh),
    [null, 10, 5 + 16, null],
  );
  const total = days.reduce((s, d) => s + (d.kwh ?? 0), 0);
  assert.equal(total, rows.at(-1)!.energy! - rows[0].energy!);
});

test('weeks and months, and a device without any counter', (t) => {
  const db = tempDb(t);
  write(db, constantLoad(1, local(2026, 1, 1), local(2026, 3, 1), 30));
  write(db, [{ deviceId: 2, ts: local(2026, 1, 10), power: 5 }]);
  const energy = new EnergyHistory(db);
  const months = energy.perPeriod(1, 'month', local(2026, 1, 15), local(2026, 2, 15));
  assert.deepEqual(
    months.map((m) => [new Date(m.start).getMonth() + 1, m.kwh]),
    [
      [1, 31 * 24 - 0.5],
      [2, 28 * 24],
    ],
  );
  const weeks = energy.perPeriod(1, 'week', local(2026, 1, 12), local(2026, 1, 19));
  assert.deepEqual(
    weeks.map((w) => w.kwh),
    [7 * 24],
  );
  assert.deepEqual(
    energy.perPeriod(2, 'day', local(2026, 1, 9), local(2026, 1, 11)).map((d) => d.kwh),
    [null, null],
  );
});
