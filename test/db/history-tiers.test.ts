import { test } from 'node:test';
import assert from 'node:assert/strict';
import { History } from '../../src/db/history.js';
import { pruneDatabase } from '../../src/db/prune.js';
import { BatchWriter } from '../../src/db/writer.js';
import { parseConfig } from '../../src/config/config.js';
import { storedReadingsPolicy } from '../../src/db/writer.js';
import { silentLogger } from '../../src/log.js';
import { tempDatabase } from '../helpers/database.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 1, 0, 0, 0);
const policy = storedReadingsPolicy(parseConfig({}).database)!;

test('raw tier: a quiet device is a flat line at its last stored value, and a silent one a gap once the hold has passed', (t) => {
  const { db } = tempDatabase(t);
  const writer = new BatchWriter(db, { flushIntervalMs: 60_000, storePolicy: policy, log: silentLogger });
  // 100 W every second for 10 minutes (stored once a minute), 300 W for 5 minutes, then silence.
  for (let s = 0; s < 900; s++) writer.addReading({ deviceId: 1, ts: T0 + s * 1000, power: s < 600 ? 100 : 300 });
  assert.ok(writer.flush());
  assert.equal(
    db.prepare('SELECT count(*) FROM readings').pluck().get(),
    15,
    'once a minute, and the step: 0, 60 .. 540, 600, 660 .. 840 s',
  );
  const history = new History(db, { storeIntervalMs: policy.maxIntervalMs });
  const buckets = history.buckets({ deviceId: 1, from: T0, to: T0 + 30 * MINUTE, bucketMs: 10_000 });
  const power = new Map(buckets.map((b) => [(b.t - T0) / 1000, b.values.power]));
  for (let s = 0; s < 600; s += 10) assert.deepEqual(power.get(s), { min: 100, avg: 100, max: 100 }, `at ${s} s: held at 100 W, no gap`);
  assert.deepEqual(power.get(600), { min: 100, avg: 200, max: 300 }, 'the step: the held 100 W and the stored 300 W');
  for (let s = 610; s < 900; s += 10) assert.equal(power.get(s)?.max, 300, `at ${s} s`);
  // The last reading was stored at 840 s: held for 90 s, then nothing.
  assert.equal(power.get(930)?.max, 300);
  assert.equal(power.get(940), undefined, 'silent for longer than the hold: a gap');
  assert.equal(buckets.at(-1)!.t, T0 + 930_000);

  // Bucket counts are the stored readings; minute buckets come from the rollups and count every reading.
  const minutes = history.buckets({ deviceId: 1, from: T0, to: T0 + 30 * MINUTE, bucketMs: MINUTE });
  assert.deepEqual(
    minutes.map((b) => b.count),
    Array(15).fill(60),
  );
});

test('a range reaching back past where raw readings (or minutes) aged out, or longer than 6 h, is answered a tier coarser: no gap', async (t) => {
  const { db } = tempDatabase(t);
  const writer = new BatchWriter(db, { flushIntervalMs: 60_000, storePolicy: policy, log: silentLogger });
  // 12 days of a power frame every 20 s whose value moves every 5 minutes.
  for (let ts = T0; ts < T0 + 12 * DAY; ts += 20_000)
    writer.addReading({ deviceId: 1, ts, power: 50 + (Math.floor(ts / (5 * MINUTE)) % 7) * 10 });
  assert.ok(writer.flush());
  const now = T0 + 12 * DAY;
  // Raw readings kept 2 days, minutes 7: what the daily retention leaves.
  await pruneDatabase(db, { cutoffs: { readings: now - 2 * DAY, minutes: now - 7 * DAY }, pauseMs: 0 });
  const history = new History(db, { storeIntervalMs: policy.maxIntervalMs });

  const cases: [string, number, number, number, string, number][] = [
    // name, from, to, bucket asked, tier answered, bucket answered
    ['the last hour in 10 s buckets', now - HOUR, now, 10_000, 'raw', 10_000],
    ['an hour 3 days ago', now - 3 * DAY, now - 3 * DAY + HOUR, 10_000, '1m', MINUTE],
    ['an hour straddling the raw cutoff', now - 2 * DAY - 30 * MINUTE, now - 2 * DAY + 30 * MINUTE, 10_000, '1m', MINUTE],
    ['a day 9 days ago in 5-minute buckets', now - 9 * DAY, now - 8 * DAY, 5 * MINUTE, '1h', HOUR],
    ['the last 10 days in 30-minute buckets', now - 10 * DAY, now, 30 * MINUTE, '1h', HOUR],
    ['the last 5 days in 10-minute buckets', now - 5 * DAY, now, 10 * MINUTE, '1m', 10 * MINUTE],
    ['the last 6 hours in 10 s buckets', now - 6 * HOUR, now, 10_000, 'raw', 10_000],
    ['the last day in 10 s buckets: longer than raw readings answer', now - DAY, now, 10_000, '1m', MINUTE],
  ];
  for (const [name, from, to, bucketMs, tier, answered] of cases) {
    const answer = history.query({ deviceId: 1, from, to, bucketMs });
    assert.equal(answer.tier, tier, `${name}: tier`);
    assert.equal(answer.bucketMs, answered, `${name}: bucket`);
    const expected = Math.ceil((to - from) / answered) + (from % answered === 0 ? 0 : 1) - (to % answered === 0 ? 0 : 1);
    const starts = answer.buckets.map((b) => b.t);
    for (let i = 1; i < starts.length; i++)
      assert.equal(starts[i] - starts[i - 1], answered, `${name}: no gap before ${new Date(starts[i]).toISOString()}`);
    assert.ok(Math.abs(starts.length - expected) <= 1, `${name}: ${starts.length} buckets, about ${expected}`);
    assert.ok(
      answer.buckets.every((b) => b.values.power && b.values.power.min >= 50 && b.values.power.max <= 110),
      `${name}: values`,
    );
  }
});
