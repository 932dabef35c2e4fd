/**
 * Reading history from SQLite, downsampled in SQL into min/avg/max per time bucket.
 * A range is cut into pieces: whole hours are read from the hourly rollup, whole minutes from the
 * per-minute rollup, and only the ragged edges from the raw readings, so a year costs about as
 * much as a day. A rollup is used only when the bucket is a whole multiple of its period (each
 * rollup row then falls into exactly one bucket).
 */
import type { Bucket, HistoryQuery, HistoryReader } from '../gateway/storage.js';
import type { Db } from './database.js';
import { QUANTITIES, type Quantity } from '../contracts/vocabulary.js';
import { ROLLUPS } from './rollups.js';

/** One row of any of the three sources: per quantity min, max, sum and count. */
type Row = Record<string, number | null>;
type Statement = { all(...params: number[]): unknown[] };

const rawColumns = QUANTITIES.map((q) => `min(${q}) AS ${q}_min, max(${q}) AS ${q}_max, sum(${q}) AS ${q}_sum, count(${q}) AS ${q}_n`).join(', ');
const rollupColumns = QUANTITIES.map(
  (q) => `min(${q}_min) AS ${q}_min, max(${q}_max) AS ${q}_max, sum(${q}_sum) AS ${q}_sum, sum(${q}_n) AS ${q}_n`,
).join(', ');

const floorTo = (t: number, step: number) => t - (((t % step) + step) % step);
const ceilTo = (t: number, step: number) => floorTo(t + step - 1, step);

export class History implements HistoryReader {
  private readonly raw: Statement;
  private readonly rollups: { periodMs: number; statement: Statement }[];

  constructor(db: Db) {
    this.raw = db.prepare(
      `SELECT ts - (ts % ?) AS b, count(*) AS count, ${rawColumns}
       FROM readings WHERE device_id = ? AND ts >= ? AND ts < ? GROUP BY b`,
    );
    this.rollups = ROLLUPS.map(({ periodMs, table }) => ({
      periodMs,
      statement: db.prepare(
        `SELECT t - (t % ?) AS b, sum(n) AS count, ${rollupColumns}
         FROM ${table} WHERE device_id = ? AND t >= ? AND t < ? GROUP BY b`,
      ),
    }));
  }

  buckets(q: HistoryQuery): Bucket[] {
    const merged = new Map<number, Row>();
    const levels = this.rollups.filter((r) => q.bucketMs % r.periodMs === 0).reverse(); // coarsest first
    this.collect(q, q.from, q.to, levels, merged);
    return [...merged.entries()].sort(([a], [b]) => a - b).map(([t, row]) => toBucket(t, row));
  }

  /** Reads [from, to) from the coarsest rollup that fits and the finer sources for the edges. */
  private collect(q: HistoryQuery, from: number, to: number, levels: typeof this.rollups, into: Map<number, Row>): void {
    if (from >= to) return;
    const [level, ...finer] = levels;
    if (!level) return add(into, this.raw.all(q.bucketMs, q.deviceId, from, to) as Row[]);
    const start = ceilTo(from, level.periodMs);
    const end = floorTo(to, level.periodMs);
    if (start >= end) return this.collect(q, from, to, finer, into);
    this.collect(q, from, start, finer, into);
    add(into, level.statement.all(q.bucketMs, q.deviceId, start, end) as Row[]);
    this.collect(q, end, to, finer, into);
  }
}

function add(into: Map<number, Row>, rows: Row[]): void {
  for (const row of rows) {
    const b = row.b!;
    const seen = into.get(b);
    if (!seen) {
      into.set(b, row);
      continue;
    }
    seen.count! += row.count!;
    for (const q of QUANTITIES) {
      seen[`${q}_min`] = combine(seen[`${q}_min`], row[`${q}_min`], Math.min);
      seen[`${q}_max`] = combine(seen[`${q}_max`], row[`${q}_max`], Math.max);
      seen[`${q}_sum`] = (seen[`${q}_sum`] ?? 0) + (row[`${q}_sum`] ?? 0);
      seen[`${q}_n`] = (seen[`${q}_n`] ?? 0) + (row[`${q}_n`] ?? 0);
    }
  }
}

function combine(a: number | null, b: number | null, pick: (x: number, y: number) => number): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return pick(a, b);
}

function toBucket(t: number, row: Row): Bucket {
  const values: Bucket['values'] = {};
  for (const q of QUANTITIES) {
    const n = row[`${q}_n`] ?? 0;
    if (n > 0) values[q] = { min: row[`${q}_min`]!, avg: row[`${q}_sum`]! / n, max: row[`${q}_max`]! };
  }
  return { t, count: row.count!, values };
}
