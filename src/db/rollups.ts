/**
 * Per-minute and per-hour rollups of every reading (min, max, sum and count per quantity), the
 * tiers that keep history for a year and for ever once the raw readings have aged out.
 *
 * Written for an SD card: readings are folded into in-memory accumulators as they arrive, and each
 * commit upserts only the periods that changed. The tables are ordered by time first (migration 005),
 * so the open minute's and hour's rows of every device sit together at the tables' right edge and a
 * commit rewrites a page or two there, however many devices report (ordered by device, it would
 * rewrite one page per device). Values are fixed-point integers (STORED_SCALE): SQLite stores small
 * integers in 1 to 4 bytes where a REAL takes 8, which halves a minute row (about 100 bytes).
 */
import type { Db } from './database.js';
import { QUANTITIES, type Quantity } from '../contracts/vocabulary.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/** The rollup tables, finest first: period and table name. */
export const ROLLUPS = [
  { periodMs: MINUTE_MS, table: 'readings_1m' },
  { periodMs: HOUR_MS, table: 'readings_1h' },
] as const;

/**
 * The stored resolution, the CAN frames' own: 0.1 V, 1 mA, 0.1 W, 1 Wh, 0.1 %RH, 0.1 °C. Rollup
 * columns hold value x scale as integers; raw readings are rounded to the same resolution.
 */
export const STORED_SCALE: Record<Quantity, number> = {
  voltage: 10,
  current: 1000,
  power: 10,
  energy: 1000,
  humidity: 10,
  temperature: 10,
};

/** A value rounded to its stored resolution, in its own unit. */
export const roundToStored = (q: Quantity, value: number): number => Math.round(value * STORED_SCALE[q]) / STORED_SCALE[q];

/** One reading as the accumulators take it: only the quantities its frame carried. */
export type RollupInput = { deviceId: number; ts: number } & Partial<Record<Quantity, number>>;

interface Stat {
  min: number;
  max: number;
  sum: number;
  n: number;
}

interface Accumulator {
  n: number;
  stats: (Stat | undefined)[];
}

const columns = ['t', 'device_id', 'n', ...QUANTITIES.flatMap((q) => [`${q}_min`, `${q}_max`, `${q}_sum`, `${q}_n`])];

/** min()/max() of SQLite return NULL when either side is NULL: compare only what is there. */
const merge = QUANTITIES.map(
  (q) =>
    `${q}_min = min(coalesce(${q}_min, excluded.${q}_min), coalesce(excluded.${q}_min, ${q}_min)),
     ${q}_max = max(coalesce(${q}_max, excluded.${q}_max), coalesce(excluded.${q}_max, ${q}_max)),
     ${q}_sum = coalesce(${q}_sum, 0) + coalesce(excluded.${q}_sum, 0),
     ${q}_n = ${q}_n + excluded.${q}_n`,
).join(',\n');

/** Readings folded into per-period accumulators until the next commit writes them. */
export class RollupAccumulator {
  /** Per rollup: period start -> device id -> accumulator. */
  private readonly pending = ROLLUPS.map(() => new Map<number, Map<number, Accumulator>>());
  /** Minutes (of any device) waiting to be written. */
  pendingMinutes = 0;
  private readonly upserts;

  constructor(db: Db) {
    this.upserts = ROLLUPS.map(({ table }) =>
      db.prepare(
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
         ON CONFLICT (t, device_id) DO UPDATE SET n = n + excluded.n, ${merge}`,
      ),
    );
  }

  add(reading: RollupInput): void {
    ROLLUPS.forEach(({ periodMs }, i) => {
      const t = reading.ts - (((reading.ts % periodMs) + periodMs) % periodMs);
      let devices = this.pending[i].get(t);
      if (!devices) {
        devices = new Map();
        this.pending[i].set(t, devices);
      }
      let acc = devices.get(reading.deviceId);
      if (!acc) {
        acc = { n: 0, stats: QUANTITIES.map(() => undefined) };
        devices.set(reading.deviceId, acc);
        if (i === 0) this.pendingMinutes++;
      }
      acc.n++;
      for (let q = 0; q < QUANTITIES.length; q++) {
        const value = reading[QUANTITIES[q]];
        if (value === undefined || !Number.isFinite(value)) continue;
        const v = Math.round(value * STORED_SCALE[QUANTITIES[q]]);
        const s = acc.stats[q];
        if (!s) acc.stats[q] = { min: v, max: v, sum: v, n: 1 };
        else {
          if (v < s.min) s.min = v;
          if (v > s.max) s.max = v;
          s.sum += v;
          s.n++;
        }
      }
    });
  }

  /** Forgets the oldest pending minute of every device (the database has refused writes too long); returns its readings. */
  dropOldestMinute(): number {
    let oldest = Infinity;
    for (const t of this.pending[0].keys()) if (t < oldest) oldest = t;
    const devices = this.pending[0].get(oldest);
    let readings = 0;
    for (const acc of devices?.values() ?? []) readings += acc.n;
    this.pendingMinutes -= devices?.size ?? 0;
    this.pending[0].delete(oldest);
    return readings;
  }

  /** Upserts every pending period in time order; call inside the commit's transaction, then clear() once it committed. */
  write(): void {
    this.pending.forEach((periods, i) => {
      for (const t of [...periods.keys()].sort((a, b) => a - b)) {
        for (const [deviceId, acc] of [...periods.get(t)!].sort(([a], [b]) => a - b)) {
          this.upserts[i].run(t, deviceId, acc.n, ...acc.stats.flatMap((s) => (s ? [s.min, s.max, s.sum, s.n] : [null, null, null, 0])));
        }
      }
    });
  }

  clear(): void {
    for (const periods of this.pending) periods.clear();
    this.pendingMinutes = 0;
  }
}
