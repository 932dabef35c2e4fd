/**
 * Keeps the database from filling the SD card: once a day (first run a minute after start) deletes
 * what has aged out of each tier, in batches, through the daemon's own connection: raw readings after
 * `database.retention_days`, per-minute rollups after `minute_retention_days`, hourly ones after
 * `hour_retention_days`, event-log entries after `event_retention_days` (0 keeps a tier).
 */
import type { Logger } from '../log.js';
import type { Db } from './database.js';
import { pruneDatabase, type PruneCutoffs, type PruneTier } from './prune.js';

export const DAY_MS = 86_400_000;

/** Days each tier is kept; 0 keeps it. */
export type RetentionDays = Record<PruneTier, number>;

/** The retention settings of the config as days per tier. */
export function retentionDays(database: {
  retention_days: number;
  minute_retention_days: number;
  hour_retention_days: number;
  event_retention_days: number;
}): RetentionDays {
  return {
    readings: database.retention_days,
    minutes: database.minute_retention_days,
    hours: database.hour_retention_days,
    events: database.event_retention_days,
  };
}

/** What is older than its tier's retention at `now`. */
export function retentionCutoffs(days: RetentionDays, now: number): PruneCutoffs {
  const cutoffs: PruneCutoffs = {};
  for (const tier of Object.keys(days) as PruneTier[]) if (days[tier] > 0) cutoffs[tier] = now - days[tier] * DAY_MS;
  return cutoffs;
}

export interface RetentionDeps {
  db: Db;
  retention: RetentionDays;
  log: Logger;
  /** Delay of the first run after start (default one minute: start-up stays quick). */
  firstRunMs?: number;
  intervalMs?: number;
}

export class Retention {
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: RetentionDeps) {}

  start(): void {
    if (Object.values(this.deps.retention).every((days) => days <= 0)) return;
    this.stopped = false;
    const first = setTimeout(() => this.trigger(), this.deps.firstRunMs ?? 60_000);
    const daily = setInterval(() => this.trigger(), this.deps.intervalMs ?? DAY_MS);
    first.unref();
    daily.unref();
    this.timers.push(first, daily);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.splice(0)) clearTimeout(timer);
    await this.running;
  }

  /** One pruning run now (also used by tests); a run already going on is not doubled. */
  trigger(): Promise<void> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<void> {
    const { db, retention, log } = this.deps;
    const started = performance.now();
    try {
      const result = await pruneDatabase(db, { cutoffs: retentionCutoffs(retention, Date.now()), aborted: () => this.stopped });
      if (result.batches > 0)
        log.info({ ...result, retention_days: retention, ms: Math.round(performance.now() - started) }, 'aged-out rows deleted');
    } catch (error) {
      log.error({ err: (error as Error).message }, 'retention run failed; trying again tomorrow');
    }
  }
}
