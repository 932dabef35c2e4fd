/**
 * Deletes readings and event-log entries older than a cutoff, in small batches with a pause between
 * them, so a daemon sharing the database (or the daemon itself, see retention.ts) is never blocked
 * for more than one batch. Used by `canplug db prune` and the daily retention run.
 */
import type { Db } from './database.js';

export interface PruneOptions {
  /** Rows older than this (ms since the epoch) are deleted. */
  before: number;
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

export interface PruneResult {
  readings: number;
  events: number;
  batches: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function pruneDatabase(db: Db, options: PruneOptions): Promise<PruneResult> {
  const { before, batchSize = 5000, pauseMs = 20 } = options;
  const result: PruneResult = { readings: 0, events: 0, batches: 0 };
  // Per device, so each batch is an index range scan on readings (device_id, ts) rather than a table scan.
  const devices = (db.prepare('SELECT DISTINCT device_id AS id FROM readings').all() as { id: number }[]).map((d) => d.id);
  if (options.dryRun) {
    const countReadings = db.prepare('SELECT count(*) AS n FROM readings WHERE device_id = ? AND ts < ?');
    for (const id of devices) result.readings += (countReadings.get(id, before) as { n: number }).n;
    result.events = (db.prepare('SELECT count(*) AS n FROM events WHERE ts < ?').get(before) as { n: number }).n;
    return result;
  }
  const deleteReadings = db.prepare(
    'DELETE FROM readings WHERE rowid IN (SELECT rowid FROM readings WHERE device_id = ? AND ts < ? LIMIT ?)',
  );
  const deleteEvents = db.prepare('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? LIMIT ?)');
  const batches: { run: () => number; count: (n: number) => void }[] = [
    ...devices.map((id) => ({ run: () => deleteReadings.run(id, before, batchSize).changes, count: (n: number) => (result.readings += n) })),
    { run: () => deleteEvents.run(before, batchSize).changes, count: (n: number) => (result.events += n) },
  ];
  for (const batch of batches) {
    for (;;) {
      if (options.aborted?.()) return result;
      const deleted = batch.run();
      if (deleted === 0) break;
      batch.count(deleted);
      result.batches++;
      options.onBatch?.(result.readings + result.events);
      if (deleted < batchSize) break;
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
