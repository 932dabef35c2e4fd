/**
 * Keeps the database from filling the SD card: once a day (first run a minute after start) deletes
 * readings and events older than `database.retention_days`, in batches, through the daemon's own
 * connection. 0 keeps everything.
 */
import type { Logger } from '../log.js';
import type { Db } from './database.js';
import { pruneDatabase } from './prune.js';

export const DAY_MS = 86_400_000;

export interface RetentionDeps {
  db: Db;
  retentionDays: number;
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
    if (this.deps.retentionDays <= 0) return;
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
    const { db, retentionDays, log } = this.deps;
    const started = performance.now();
    try {
      const result = await pruneDatabase(db, { before: Date.now() - retentionDays * DAY_MS, aborted: () => this.stopped });
      if (result.readings + result.events > 0) {
        log.info({ ...result, retention_days: retentionDays, ms: Math.round(performance.now() - started) }, 'old readings and events deleted');
      }
    } catch (error) {
      log.error({ err: (error as Error).message }, 'retention run failed; trying again tomorrow');
    }
  }
}
