import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAge, pruneDatabase } from '../../src/db/prune.js';
import { Retention } from '../../src/db/retention.js';
import { silentLogger } from '../../src/log.js';
import { count, DAY, seed, tempDatabase } from '../helpers/database.js';

test('prune deletes raw readings and events older than their cutoffs, in batches at the old end, and keeps the rest', async (t) => {
  const { db } = tempDatabase(t);
  const now = Date.now();
  // Per device: 300 readings 100..399 days old, 50 from the last 50 days.
  seed(db, 3, [...Array.from({ length: 300 }, (_, i) => now - (100 + i) * DAY), ...Array.from({ length: 50 }, (_, i) => now - i * DAY)]);
  const cutoff = now - 90 * DAY;
  const cutoffs = { readings: cutoff, events: cutoff };

  const dry = await pruneDatabase(db, { cutoffs, dryRun: true });
  assert.deepEqual(dry, { readings: 900, minutes: 0, hours: 0, events: 300, batches: 0 });
  assert.equal(count(db, 'readings'), 1050, 'a dry run deletes nothing');

  const totals: number[] = [];
  const result = await pruneDatabase(db, { cutoffs, batchSize: 128, pauseMs: 0, onBatch: (n) => totals.push(n) });
  assert.equal(result.readings, 900);
  assert.equal(result.events, 300);
  const sizes = totals.map((n, i) => n - (totals[i - 1] ?? 0));
  // A batch ends at a time: the three devices' rows of its last time go together (128 rounded up to 129).
  assert.ok(
    sizes.every((n) => n <= 130),
    `batch sizes ${sizes.join(', ')}`,
  );
  assert.equal(result.batches, sizes.length);
  assert.equal(totals.at(-1), 1200);
  assert.equal(count(db, 'readings', `ts < ${cutoff}`), 0);
  assert.equal(count(db, 'readings'), 150, 'recent readings kept');
  assert.equal(count(db, 'events'), 50, 'recent events kept');
});

test('prune stops between batches when aborted (daemon shutdown)', async (t) => {
  const { db } = tempDatabase(t);
  seed(
    db,
    1,
    Array.from({ length: 1000 }, (_, i) => i),
  );
  let batches = 0;
  const result = await pruneDatabase(db, {
    cutoffs: { readings: 10_000 },
    batchSize: 100,
    pauseMs: 0,
    aborted: () => batches >= 2,
    onBatch: () => batches++,
  });
  assert.equal(result.readings, 200);
  assert.equal(count(db, 'readings'), 800);
});

test('the daily retention run deletes what has aged out of each tier, each by its own days; 0 keeps a tier', async (t) => {
  const { db } = tempDatabase(t);
  const now = Date.now();
  const times = [now - 400 * DAY, now - 40 * DAY, now - 31 * DAY, now - 29 * DAY, now];
  seed(db, 2, times);
  const rollup = (table: string) => db.prepare(`INSERT INTO ${table} (t, device_id, n) VALUES (?, 1, 1)`);
  for (const ts of times) {
    rollup('readings_1m').run(ts - (ts % 60_000));
    rollup('readings_1h').run(ts - (ts % 3_600_000));
  }
  const tiers = () => ({
    readings: count(db, 'readings'),
    minutes: count(db, 'readings_1m'),
    hours: count(db, 'readings_1h'),
    events: count(db, 'events'),
  });
  const keepAll = new Retention({ db, retention: { readings: 0, minutes: 0, hours: 0, events: 0 }, log: silentLogger, firstRunMs: 0 });
  keepAll.start();
  await new Promise((r) => setTimeout(r, 50));
  await keepAll.stop();
  assert.deepEqual(tiers(), { readings: 10, minutes: 5, hours: 5, events: 5 });

  const retention = new Retention({
    db,
    retention: { readings: 30, minutes: 35, hours: 0, events: 365 },
    log: silentLogger,
    firstRunMs: 10,
  });
  retention.start();
  t.after(() => retention.stop());
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(
    tiers(),
    { readings: 4, minutes: 3, hours: 5, events: 4 },
    'the first run, shortly after start: raw readings past 30 days, minutes past 35, events past a year; hours kept',
  );
});

test('ages are a number and a unit, and anything else is refused with the accepted forms', () => {
  assert.equal(parseAge('90d'), 90 * DAY);
  assert.equal(parseAge('12h'), 12 * 3_600_000);
  assert.equal(parseAge('2w'), 14 * DAY);
  assert.throws(() => parseAge('90'), /"90" is not an age; use a number and a unit: s, m, h, d or w \(for example 90d\)/);
  assert.throws(() => parseAge('3 months'), /is not an age/);
  assert.throws(() => parseAge('0d'), /must be more than zero/);
});
