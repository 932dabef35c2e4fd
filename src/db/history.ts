/**
 * Reading history from SQLite, as min/avg/max per time bucket, from three tiers: the raw readings
 * (kept days), the per-minute rollups (kept about a year) and the hourly ones (kept for ever).
 *
 * A range is cut into pieces: whole hours are read from the hourly rollup, whole minutes from the
 * per-minute one, and only the ragged edges from the raw readings, so a year costs about as much as
 * a day. A rollup is used only when the bucket is a whole multiple of its period (each rollup row
 * then falls into exactly one bucket). When the range reaches back past where a tier's data has
 * aged out while a coarser tier still has it, the bucket is widened to that coarser tier, so a long
 * or old range never shows a gap where the finer rows were deleted (plan()).
 *
 * Raw readings are stored on change (a deadband, and at least every `store.max_interval_s`): a
 * bucket without a stored reading holds the last stored value while it is younger than 1.5 store
 * intervals (the value had not moved beyond its deadband), so a quiet device is a flat line, not a gap.
 */
import type { HistoryTier as Tier } from '../contracts/vocabulary.js';
import type { Bucket, HistoryAnswer, HistoryQuery, HistoryReader } from '../gateway/storage.js';
import type { Db } from './database.js';
import { QUANTITIES } from '../contracts/vocabulary.js';
import { ROLLUPS, STORED_SCALE } from './rollups.js';

export interface HistoryOptions {
  /** The storage policy's at-least-every interval (`database.store.max_interval_s`); undefined: every reading is stored. */
  storeIntervalMs?: number;
}

/**
 * A stored raw value stands for the readings after it for this many store intervals: at least one
 * reading is stored per interval while a device reports, plus room for its report period.
 */
const HOLD_INTERVALS = 1.5;

/** The longest range the raw readings answer; longer ones come from the rollups, in whole minutes at least. */
export const RAW_RANGE_MS = 6 * 3_600_000;

/** One bucket of any source: per quantity min, max, sum and count, in the quantity's unit. */
type Row = Record<string, number | null>;
type Statement = { all(...params: number[]): unknown[] };
/** Each quantity's column names in a Row. */
const KEYS = QUANTITIES.map((q) => ({ min: `${q}_min`, max: `${q}_max`, sum: `${q}_sum`, n: `${q}_n` }));

const rollupColumns = QUANTITIES.map((q) => {
  const scale = STORED_SCALE[q];
  return `min(${q}_min) / ${scale}.0 AS ${q}_min, max(${q}_max) / ${scale}.0 AS ${q}_max, sum(${q}_sum) / ${scale}.0 AS ${q}_sum, sum(${q}_n) AS ${q}_n`;
}).join(', ');

const floorTo = (t: number, step: number) => t - (((t % step) + step) % step);
const ceilTo = (t: number, step: number) => floorTo(t + step - 1, step);

const TIER_PERIODS: { tier: Tier; periodMs: number }[] = [
  { tier: '1h', periodMs: ROLLUPS[1].periodMs },
  { tier: '1m', periodMs: ROLLUPS[0].periodMs },
];

export function tierOf(bucketMs: number): Tier {
  return TIER_PERIODS.find((p) => bucketMs % p.periodMs === 0)?.tier ?? 'raw';
}

export class History implements HistoryReader {
  private readonly raw: Statement;
  private readonly rollups: { periodMs: number; statement: Statement }[];
  private readonly oldest: { raw: () => number | null; '1m': () => number | null; '1h': () => number | null };
  private readonly holdMs: number;

  constructor(db: Db, options: HistoryOptions = {}) {
    this.holdMs = options.storeIntervalMs === undefined ? 0 : HOLD_INTERVALS * options.storeIntervalMs;
    this.raw = db.prepare(`SELECT ts, ${QUANTITIES.join(', ')} FROM readings WHERE ts >= ? AND ts < ? AND device_id = ? ORDER BY ts`).raw();
    this.rollups = ROLLUPS.map(({ periodMs, table }) => ({
      periodMs,
      statement: db.prepare(
        `SELECT t - (t % ?) AS b, sum(n) AS count, ${rollupColumns}
         FROM ${table} WHERE device_id = ? AND t >= ? AND t < ? GROUP BY b`,
      ),
    }));
    const min = (sql: string) => {
      const statement = db.prepare(sql).pluck();
      return () => statement.get() as number | null;
    };
    this.oldest = {
      raw: min('SELECT min(ts) FROM readings'),
      '1m': min(`SELECT min(t) FROM ${ROLLUPS[0].table}`),
      '1h': min(`SELECT min(t) FROM ${ROLLUPS[1].table}`),
    };
  }

  /** plan() and buckets() in one: the answer with the bucket actually used. */
  query(q: HistoryQuery): HistoryAnswer {
    const { bucketMs, tier } = this.plan(q.from, q.to, q.bucketMs);
    return { bucketMs, tier, buckets: this.buckets({ ...q, bucketMs }) };
  }

  /**
   * The bucket for a range: the one asked for, widened to whole minutes (or hours) when the range
   * starts before the oldest raw reading (or per-minute rollup) and the coarser tier reaches further
   * back, that is, where the finer rows have aged out; and to whole minutes for a range longer than
   * RAW_RANGE_MS, which the raw readings would answer slowly (they are read row by row).
   */
  plan(from: number, to: number, bucketMs: number): { bucketMs: number; tier: Tier } {
    let bucket = bucketMs;
    // Aged out: the coarser tier has a period wholly before the finer tier's oldest row, and the range reaches back there.
    const agedOut = (finer: number | null, coarser: number | null, coarserMs: number) =>
      coarser !== null && (finer === null || (from < finer && coarser < floorTo(finer, coarserMs)));
    const [minute, hour] = ROLLUPS.map((r) => r.periodMs);
    if (tierOf(bucket) === 'raw' && (to - from > RAW_RANGE_MS || agedOut(this.oldest.raw(), this.oldest['1m'](), minute)))
      bucket = ceilTo(bucket, minute);
    if (tierOf(bucket) === '1m' && agedOut(this.oldest['1m'](), this.oldest['1h'](), hour)) bucket = ceilTo(bucket, hour);
    return { bucketMs: bucket, tier: tierOf(bucket) };
  }

  /** The buckets of exactly this width (no widening), oldest first; empty buckets are left out. */
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
    if (!level) return add(into, this.rawBuckets(q, from, to));
    const start = ceilTo(from, level.periodMs);
    const end = floorTo(to, level.periodMs);
    if (start >= end) return this.collect(q, from, to, finer, into);
    this.collect(q, from, start, finer, into);
    add(into, level.statement.all(q.bucketMs, q.deviceId, start, end) as Row[]);
    this.collect(q, end, to, finer, into);
  }

  /** Buckets of the raw readings in [from, to), with the stored values held across quiet buckets. */
  private rawBuckets(q: HistoryQuery, from: number, to: number): Row[] {
    // Rows as arrays [ts, ...QUANTITIES] and plain number arrays per quantity: this loop may see a million rows.
    const rows = this.raw.all(from - this.holdMs, to, q.deviceId) as (number | null)[][];
    const quantities = QUANTITIES.length;
    const heldValue = new Float64Array(quantities);
    const heldTs = new Float64Array(quantities).fill(-Infinity);
    const min = new Float64Array(quantities);
    const max = new Float64Array(quantities);
    const sum = new Float64Array(quantities);
    const n = new Float64Array(quantities);
    const addValue = (k: number, v: number) => {
      if (n[k] === 0 || v < min[k]) min[k] = v;
      if (n[k] === 0 || v > max[k]) max[k] = v;
      sum[k] += v;
      n[k]++;
    };
    const remember = (row: (number | null)[]) => {
      for (let k = 0; k < quantities; k++) {
        const v = row[k + 1];
        if (v === null) continue;
        heldValue[k] = v;
        heldTs[k] = row[0]!;
      }
    };
    const out: Row[] = [];
    let i = 0;
    for (let b = floorTo(from, q.bucketMs); b < to; b += q.bucketMs) {
      const start = Math.max(b, from);
      const end = Math.min(b + q.bucketMs, to);
      for (; i < rows.length && rows[i][0]! < start; i++) remember(rows[i]);
      n.fill(0);
      sum.fill(0);
      let count = 0;
      if (this.holdMs > 0) for (let k = 0; k < quantities; k++) if (start - heldTs[k] <= this.holdMs) addValue(k, heldValue[k]);
      for (; i < rows.length && rows[i][0]! < end; i++) {
        count++;
        for (let k = 0; k < quantities; k++) {
          const v = rows[i][k + 1];
          if (v !== null) addValue(k, v);
        }
        remember(rows[i]);
      }
      if (count === 0 && !n.some((x) => x > 0)) continue;
      const row: Row = { b, count };
      KEYS.forEach((key, k) => {
        if (n[k] === 0) return;
        row[key.min] = min[k];
        row[key.max] = max[k];
        row[key.sum] = sum[k];
        row[key.n] = n[k];
      });
      out.push(row);
    }
    return out;
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

function combine(a: number | null | undefined, b: number | null | undefined, pick: (x: number, y: number) => number): number | null {
  if (a === null || a === undefined) return b ?? null;
  if (b === null || b === undefined) return a;
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
