/**
 * Batched writes of readings and events: rows are buffered and written in one transaction
 * every flush interval (or sooner when the batch is full), never one transaction per frame.
 * When the database refuses writes (disk full, read-only) rows are kept, up to a bound,
 * and retried; the problem is reported through `health()`.
 */
import type { Db } from './database.js';
import type { Logger } from '../log.js';
import type { EventType, Origin } from '../contracts/vocabulary.js';
import { RollupWriter, type RollupInput } from './rollups.js';

export type ReadingRow = RollupInput & { relay?: boolean };

export interface EventRow {
  ts: number;
  deviceId?: number;
  type: EventType;
  cause?: string;
  origin?: Origin;
  detail?: unknown;
}

export interface WriterOptions {
  flushIntervalMs: number;
  /** A batch this large is written at once. */
  batchSize?: number;
  /** Readings (and, separately, events) kept while the database refuses writes; beyond this the oldest are dropped. */
  maxPending?: number;
  log: Logger;
}

export interface WriterHealth {
  ok: boolean;
  error?: string;
  pending: number;
  readingsWritten: number;
  eventsWritten: number;
  readingsDropped: number;
  eventsDropped: number;
  lastFlushMs: number;
}

export class BatchWriter {
  private readings: ReadingRow[] = [];
  private events: EventRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private counters = { readingsWritten: 0, eventsWritten: 0, readingsDropped: 0, eventsDropped: 0, lastFlushMs: 0 };
  private readonly insertReading;
  private readonly insertEvent;
  private readonly rollups: RollupWriter;
  private readonly batchSize: number;
  private readonly maxPending: number;
  /** Called after each successful flush with the number of readings written. */
  onFlush: (readings: number, ms: number) => void = () => {};

  constructor(
    private readonly db: Db,
    private readonly options: WriterOptions,
  ) {
    this.batchSize = options.batchSize ?? 2000;
    this.maxPending = options.maxPending ?? 200_000;
    this.insertReading = db.prepare(
      `INSERT INTO readings (device_id, ts, voltage, current, power, energy, humidity, temperature, relay)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertEvent = db.prepare('INSERT INTO events (ts, device_id, type, cause, origin, detail) VALUES (?, ?, ?, ?, ?, ?)');
    this.rollups = new RollupWriter(db);
  }

  start(): void {
    this.timer = setInterval(() => this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }

  addReading(row: ReadingRow): void {
    this.readings.push(row);
    if (this.readings.length > this.maxPending) {
      this.readings.shift();
      this.counters.readingsDropped++;
    }
    if (this.readings.length >= this.batchSize && this.lastError === undefined) this.flush();
  }

  addEvent(row: EventRow): void {
    this.events.push(row);
    // Bounded like the readings: a long outage with a flapping node must not grow memory without end.
    if (this.events.length > this.maxPending) {
      this.events.shift();
      this.counters.eventsDropped++;
    }
  }

  /** Writes everything pending in one transaction; returns false when the database refused. */
  flush(): boolean {
    if (this.readings.length === 0 && this.events.length === 0) return true;
    const readings = this.readings;
    const events = this.events;
    const started = performance.now();
    try {
      this.db.transaction(() => {
        for (const r of readings) {
          this.insertReading.run(
            r.deviceId,
            r.ts,
            r.voltage ?? null,
            r.current ?? null,
            r.power ?? null,
            r.energy ?? null,
            r.humidity ?? null,
            r.temperature ?? null,
            r.relay === undefined ? null : r.relay ? 1 : 0,
          );
        }
        this.rollups.add(readings);
        for (const e of events) {
          this.insertEvent.run(e.ts, e.deviceId ?? null, e.type, e.cause ?? null, e.origin ?? null, e.detail === undefined ? null : JSON.stringify(e.detail));
        }
      })();
    } catch (error) {
      const message = (error as Error).message;
      if (this.lastError !== message) this.options.log.error({ err: message, pending: readings.length + events.length }, 'database write failed; keeping rows and retrying');
      this.lastError = message;
      return false;
    }
    if (this.lastError !== undefined) this.options.log.info('database writes resumed');
    this.lastError = undefined;
    this.readings = [];
    this.events = [];
    this.counters.readingsWritten += readings.length;
    this.counters.eventsWritten += events.length;
    this.counters.lastFlushMs = performance.now() - started;
    this.onFlush(readings.length, this.counters.lastFlushMs);
    return true;
  }

  health(): WriterHealth {
    return {
      ok: this.lastError === undefined,
      ...(this.lastError !== undefined ? { error: this.lastError } : {}),
      pending: this.readings.length + this.events.length,
      ...this.counters,
    };
  }
}
