/**
 * Deletes rows older than a cutoff per tier (raw readings, per-minute and hourly rollups, event
 * log), in small batches with a pause between them, so a daemon sharing the database (or the daemon
 * itself, see retention.ts) is never blocked for more than one batch. Each table is ordered (or
 * indexed) by time, so a batch is one range at the table's old end. Used by `canplug db prune` and
 * the daily retention run.
 */
import type { Db } from './database.js';

/** Rows older than these (ms since the epoch) are deleted; a tier left out is kept. */
export interface PruneCutoffs {
  readings?: number;
  minutes?: number;
  hours?: number;
  events?: number;
}

export type PruneTier = keyof PruneCutoffs;

export interface PruneOptions {
  cutoffs: PruneCutoffs;
  /** Rows per delete transaction. */
  batchSize?: number;
  /** Pause between batches, ms: lets the daemon's writer and other readers in. */
  pauseMs?: number;
  /** Count what would be deleted; delete nothing. */
  dryRun?: boolean;
  /** Checked between batches; true stops early (shutdown). */
  aborted?: () => boolean;
  onBatch?: (deletedSoFar: number) => void;
}

export type PruneResult = Record<PruneTier, number> & { batches: number };

/** Each tier's table and time column, in the order they are pruned. */
export const PRUNE_TIERS: { tier: PruneTier; table: string; column: string; what: string }[] = [
  { tier: 'readings', table: 'readings', column: 'ts', what: 'raw reading' },
  { tier: 'minutes', table: 'readings_1m', column: 't', what: 'per-minute rollup' },
  { tier: 'hours', table: 'readings_1h', column: 't', what: 'hourly rollup' },
  { tier: 'events', table: 'events', column: 'ts', what: 'event' },
];

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function pruneDatabase(db: Db, options: PruneOptions): Promise<PruneResult> {
  const { cutoffs, batchSize = 5000, pauseMs = 20 } = options;
  const result: PruneResult = { readings: 0, minutes: 0, hours: 0, events: 0, batches: 0 };
  for (const { tier, table, column } of PRUNE_TIERS) {
    const before = cutoffs[tier];
    if (before === undefined) continue;
    if (options.dryRun) {
      result[tier] = (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} < ?`).get(before) as { n: number }).n;
      continue;
    }
    // A batch is one range at the old end: up to the time of its batch-size-th oldest row (rows
    // sharing that time go with it), or, for the last one, up to the cutoff.
    const batchEnd = db.prepare(`SELECT ${column} FROM ${table} WHERE ${column} < ? ORDER BY ${column} LIMIT 1 OFFSET ?`).pluck();
    const removeUpTo = db.prepare(`DELETE FROM ${table} WHERE ${column} <= ?`);
    const removeBefore = db.prepare(`DELETE FROM ${table} WHERE ${column} < ?`);
    for (;;) {
      if (options.aborted?.()) return result;
      const end = batchEnd.get(before, batchSize - 1) as number | undefined;
      const deleted = end === undefined ? removeBefore.run(before).changes : removeUpTo.run(end).changes;
      if (deleted === 0) break;
      result[tier] += deleted;
      result.batches++;
      options.onBatch?.(result.readings + result.minutes + result.hours + result.events);
      if (end === undefined) break;
      await pause(pauseMs);
    }
  }
  return result;
}

/** Parses an age such as `90d`, `12h`, `30m`, `2w`, `45s` into milliseconds. */
export function parseAge(text: string): number {
  const match = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not an age; use a number and a unit: s, m, h, d or w (for example 90d)`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[match[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  const ms = Number(match[1]) * unit;
  if (ms <= 0) throw new Error(`"${text}" must be more than zero`);
  return ms;
}
