import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAge, pruneDatabase } from '../../src/db/prune.js';
import { Retention } from '../../src/db/retention.js';
import { silentLogger } from '../../src/log.js';
import { count, DAY, seed, tempDatabase } from '../helpers/database.js';

test('prune deletes readings and events older than the cutoff, in batches, and keeps the rest', async (t) => {
  const { db } = tempDatabase(t);
  const now = Date.now();
  // Per device: 300 readings 100..399 days old, 50 from the last 50 days.
  seed(db, 3, [...Array.from({ length: 300 }, (_, i) => now - (100 + i) * DAY), ...Array.from({ length: 50 }, (_, i) => now - i * DAY)]);
  const cutoff = now - 90 * DAY;

  const dry = await pruneDatabase(db, { before: cutoff, dryRun: true });
  assert.deepEqual(dry, { readings: 900, events: 300, batches: 0 });
  assert.equal(count(db, 'readings'), 1050, 'a dry run deletes nothing');

  const batchesSeen: number[] = [];
  const result = await pruneDatabase(db, { before: cutoff, batchSize: 128, pauseMs: 0, onBatch: (n) => batchesSeen.push(n) });
  assert.equal(result.readings, 900);
  assert.equal(result.events, 300);
  // 300 rows per device in batches of 128 = 3 batches per device, 3 for the events.
  assert.equal(result.batches, 12);
  assert.equal(batchesSeen.at(-1), 1200);
  assert.equal(count(db, 'readings', `ts < ${cutoff}`), 0);
  assert.equal(count(db, 'readings'), 150, 'recent readings kept');
  assert.equal(count(db, 'events'), 50, 'recent events kept');
});

test('prune stops between batches when aborted (daemon shutdown)', async (t) => {
  const { db } = tempDatabase(t);
  seed(db, 1, Array.from({ length: 1000 }, (_, i) => i));
  let batches = 0;
  const result = await pruneDatabase(db, { before: 10_000, batchSize: 100, pauseMs: 0, aborted: () => batches >= 2, onBatch: () => batches++ });
  assert.equal(result.readings, 200);
  assert.equal(count(db, 'readings'), 800);
});

test('the daily retention run deletes what is older than database.retention_days; 0 keeps everything', async (t) => {
  const { db } = tempDatabase(t);
  const now = Date.now();
  seed(db, 2, [now - 40 * DAY, now - 31 * DAY, now - 29 * DAY, now]);
  const keepAll = new Retention({ db, retentionDays: 0, log: silentLogger, firstRunMs: 0 });
  keepAll.start();
  await new Promise((r) => setTimeout(r, 50));
  await keepAll.stop();
  assert.equal(count(db, 'readings'), 8);

  const retention = new Retention({ db, retentionDays: 30, log: silentLogger, firstRunMs: 10 });
  retention.start();
  t.after(() => retention.stop());
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(count(db, 'readings'), 4, 'the first run, shortly after start, deleted the two old readings per device');
  assert.equal(count(db, 'events'), 2);
});

test('ages are a number and a unit, and anything else is refused with the accepted forms', () => {
  assert.equal(parseAge('90d'), 90 * DAY);
  assert.equal(parseAge('12h'), 12 * 3_600_000);
  assert.equal(parseAge('2w'), 14 * DAY);
  assert.throws(() => parseAge('90'), /"90" is not an age; use a number and a unit: s, m, h, d or w \(for example 90d\)/);
  assert.throws(() => parseAge('3 months'), /is not an age/);
  assert.throws(() => parseAge('0d'), /must be more than zero/);
});
