/**
 * Per-minute and per-hour rollups of the readings (migration 003), kept up to date by the batch
 * writer inside its flush transaction: a batch is summed in memory first, so a flush costs one
 * upsert per device and period, not one per reading.
 */
import type { Db } from './database.js';
import { QUANTITIES, type Quantity } from '../contracts/vocabulary.js';

/** What a rollup takes from a reading: its device, time and measured values. */
export type RollupInput = { deviceId: number; ts: number } & Partial<Record<Quantity, number>>;

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/** The rollup tables, finest first: period and table name. */
export const ROLLUPS = [
  { periodMs: MINUTE_MS, table: 'readings_1m' },
  { periodMs: HOUR_MS, table: 'readings_1h' },
] as const;

interface Stat {
  min: number | null;
  max: number | null;
  sum: number;
  n: number;
}

interface Accumulator {
  deviceId: number;
  t: number;
  n: number;
  stats: Stat[];
}

const columns = ['device_id', 't', 'n', ...QUANTITIES.flatMap((q) => [`${q}_min`, `${q}_max`, `${q}_sum`, `${q}_n`])];

/** min()/max() of SQLite return NULL when either side is NULL: compare only what is there. */
const merge = QUANTITIES.map(
  (q) =>
    `${q}_min = min(coalesce(${q}_min, excluded.${q}_min), coalesce(excluded.${q}_min, ${q}_min)),
     ${q}_max = max(coalesce(${q}_max, excluded.${q}_max), coalesce(excluded.${q}_max, ${q}_max)),
     ${q}_sum = coalesce(${q}_sum, 0) + coalesce(excluded.${q}_sum, 0),
     ${q}_n = ${q}_n + excluded.${q}_n`,
).join(',\n');

export class RollupWriter {
  private readonly upserts;

  constructor(db: Db) {
    this.upserts = ROLLUPS.map(({ periodMs, table }) => ({
      periodMs,
      statement: db.prepare(
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
         ON CONFLICT (device_id, t) DO UPDATE SET n = n + excluded.n, ${merge}`,
      ),
    }));
  }

  /** Adds a batch to every rollup; call inside the transaction that inserts the readings. */
  add(rows: readonly RollupInput[]): void {
    for (const { periodMs, statement } of this.upserts) {
      for (const acc of summarize(rows, periodMs)) {
        statement.run(acc.deviceId, acc.t, acc.n, ...acc.stats.flatMap((s) => [s.min, s.max, s.n > 0 ? s.sum : null, s.n]));
      }
    }
  }
}

function summarize(rows: readonly RollupInput[], periodMs: number): Iterable<Accumulator> {
  // Keyed by device, then period start: no key string built per row (this runs for every reading).
  const byDevice = new Map<number, Map<number, Accumulator>>();
  const all: Accumulator[] = [];
  for (const row of rows) {
    const t = row.ts - (row.ts % periodMs);
    let periods = byDevice.get(row.deviceId);
    if (!periods) {
      periods = new Map();
      byDevice.set(row.deviceId, periods);
    }
    let acc = periods.get(t);
    if (!acc) {
      acc = { deviceId: row.deviceId, t, n: 0, stats: QUANTITIES.map(() => ({ min: null, max: null, sum: 0, n: 0 })) };
      periods.set(t, acc);
      all.push(acc);
    }
    acc.n++;
    for (let i = 0; i < QUANTITIES.length; i++) {
      const value = row[QUANTITIES[i]];
      if (value === undefined || value === null || !Number.isFinite(value)) continue;
      const s = acc.stats[i];
      s.min = s.min === null ? value : Math.min(s.min, value);
      s.max = s.max === null ? value : Math.max(s.max, value);
      s.sum += value;
      s.n++;
    }
  }
  return all;
}
