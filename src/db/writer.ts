/**
 * Batched writes for an SD card: what arrives is kept in memory and committed in one transaction
 * every commit interval (`database.flush_interval_ms`), so a power cut loses at most that interval;
 * a clean stop writes everything, and an event-log entry (a safety trip among them) is committed
 * at once, never held back. Every reading goes into the per-minute and hourly rollups; a reading
 * is also stored as a raw row when the storage policy (a deadband per quantity and at least every
 * N seconds, ChangeFilter) says it changed, or when the relay changed. The energy totals' offsets
 * are saved in the same transaction as the readings, so the stored totals never go backwards.
 * When the database refuses writes (disk full, read-only) everything is kept, up to a bound, and
 * retried; the problem is reported through `health()`.
 */
import type { Config } from '../config/config.js';
import type { Db } from './database.js';
import type { Logger } from '../log.js';
import { ChangeFilter, type ChangePolicy, type Sample } from '../gateway/change-filter.js';
import { QUANTITIES, type EventType, type Origin } from '../contracts/vocabulary.js';
import { RollupAccumulator, roundToStored, type RollupInput } from './rollups.js';

/** A reading as stored: its device, time, the quantities it carried and the relay. */
export interface ReadingRow extends RollupInput {
  relay?: boolean;
}

export interface EventRow {
  ts: number;
  deviceId?: number;
  type: EventType;
  cause?: string;
  origin?: Origin;
  detail?: unknown;
}

/** What the gateway adds to a node's counter to keep its energy total monotonic (EnergyTotal). */
export interface EnergyRow {
  deviceId: number;
  offsetWh: number;
  lastWh: number;
}

/** Which readings are stored as raw rows (`database.store`); undefined: every one. */
export function storedReadingsPolicy(database: Config['database']): ChangePolicy | undefined {
  const { every_reading, max_interval_s, ...deadbands } = database.store;
  return every_reading ? undefined : { deadbands, maxIntervalMs: max_interval_s * 1000 };
}

export interface WriterOptions {
  /** The commit interval: what arrived since the last commit is lost on a power cut. */
  flushIntervalMs: number;
  /** A batch of this many raw rows is committed at once. */
  batchSize?: number;
  /** Raw rows (and, separately, events) kept while the database refuses writes; beyond this the oldest are dropped. */
  maxPending?: number;
  /** Which readings are stored as raw rows; without one, every reading is. */
  storePolicy?: ChangePolicy;
  log: Logger;
}

export interface WriterHealth {
  ok: boolean;
  error?: string;
  pending: number;
  /** Readings committed (each is in the rollups). */
  readingsWritten: number;
  /** Of those, stored as raw rows. */
  rawRowsWritten: number;
  eventsWritten: number;
  /** Readings lost whole: the database refused writes so long that their minutes were given up. */
  readingsDropped: number;
  /** Raw rows given up while the database refused writes (their readings are still in the rollups). */
  rawRowsDropped: number;
  eventsDropped: number;
  lastFlushMs: number;
}

const columns = ['ts', 'device_id', 'kind', ...QUANTITIES, 'relay'];

/** The quantities a reading carries, a bit each in QUANTITIES order: its frame's kind (migration 005). */
function frameKind(row: ReadingRow): number {
  let kind = 0;
  for (let i = 0; i < QUANTITIES.length; i++) if (row[QUANTITIES[i]] !== undefined) kind |= 1 << i;
  return kind;
}

export class BatchWriter {
  private readings: ReadingRow[] = [];
  private events: EventRow[] = [];
  private energy = new Map<number, EnergyRow>();
  /** Readings folded into the rollups since the last commit. */
  private accepted = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private lastError: string | undefined;
  private counters = {
    readingsWritten: 0,
    rawRowsWritten: 0,
    eventsWritten: 0,
    readingsDropped: 0,
    rawRowsDropped: 0,
    eventsDropped: 0,
    lastFlushMs: 0,
  };
  private readonly insertReading;
  private readonly insertEvent;
  private readonly saveEnergy;
  private readonly rollups: RollupAccumulator;
  private readonly filter: ChangeFilter<number> | undefined;
  private readonly lastRelay = new Map<number, boolean>();
  private readonly batchSize: number;
  private readonly maxPending: number;
  /** Called after each successful commit with the number of readings it wrote. */
  onFlush: (readings: number, ms: number) => void = () => {};

  constructor(
    private readonly db: Db,
    private readonly options: WriterOptions,
  ) {
    this.batchSize = options.batchSize ?? 2000;
    this.maxPending = options.maxPending ?? 200_000;
    this.filter = options.storePolicy && new ChangeFilter(options.storePolicy);
    // A frame of the same kind twice in one millisecond keeps one row.
    this.insertReading = db.prepare(
      `INSERT INTO readings (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
       ON CONFLICT (ts, device_id, kind) DO UPDATE SET ${columns
         .slice(3)
         .map((c) => `${c} = coalesce(excluded.${c}, ${c})`)
         .join(', ')}`,
    );
    this.insertEvent = db.prepare('INSERT INTO events (ts, device_id, type, cause, origin, detail) VALUES (?, ?, ?, ?, ?, ?)');
    this.saveEnergy = db.prepare('UPDATE devices SET energy_offset_wh = ?, last_energy_wh = ? WHERE id = ?');
    this.rollups = new RollupAccumulator(db);
  }

  start(): void {
    this.timer = setInterval(() => this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.flush();
  }

  addReading(row: ReadingRow): void {
    this.rollups.add(row);
    this.accepted++;
    if (this.rollups.pendingMinutes > this.maxPending) {
      const dropped = this.rollups.dropOldestMinute();
      this.accepted -= dropped;
      this.counters.readingsDropped += dropped;
    }
    if (!this.stored(row)) return;
    this.readings.push(row);
    if (this.readings.length > this.maxPending) {
      this.readings.shift();
      this.counters.rawRowsDropped++;
    }
    if (this.readings.length >= this.batchSize && this.lastError === undefined) this.flush();
  }

  /** Events are committed at once (a burst in one transaction), never held for the commit interval. */
  addEvent(row: EventRow): void {
    this.events.push(row);
    // Bounded like the readings: a long outage with a flapping node must not grow memory without end.
    if (this.events.length > this.maxPending) {
      this.events.shift();
      this.counters.eventsDropped++;
    }
    if (this.lastError === undefined) this.immediate ??= setImmediate(() => this.flush());
  }

  /** The energy total's offset of a device, saved with the next commit (the latest per device). */
  addEnergy(row: EnergyRow): void {
    this.energy.set(row.deviceId, row);
  }

  /** Writes everything pending in one transaction; returns false when the database refused. */
  flush(): boolean {
    clearImmediate(this.immediate);
    this.immediate = undefined;
    if (this.accepted === 0 && this.readings.length === 0 && this.events.length === 0 && this.energy.size === 0) return true;
    const { readings, events, accepted } = this;
    const started = performance.now();
    try {
      this.db.transaction(() => {
        for (const r of readings) {
          const values = QUANTITIES.map((q) => (r[q] === undefined ? null : roundToStored(q, r[q])));
          this.insertReading.run(r.ts, r.deviceId, frameKind(r), ...values, r.relay === undefined ? null : r.relay ? 1 : 0);
        }
        this.rollups.write();
        for (const e of events) {
          this.insertEvent.run(
            e.ts,
            e.deviceId ?? null,
            e.type,
            e.cause ?? null,
            e.origin ?? null,
            e.detail === undefined ? null : JSON.stringify(e.detail),
          );
        }
        for (const e of this.energy.values()) this.saveEnergy.run(e.offsetWh, e.lastWh, e.deviceId);
      })();
    } catch (error) {
      const message = (error as Error).message;
      if (this.lastError !== message)
        this.options.log.error(
          { err: message, pending: readings.length + events.length },
          'database write failed; keeping rows and retrying',
        );
      this.lastError = message;
      return false;
    }
    if (this.lastError !== undefined) this.options.log.info('database writes resumed');
    this.lastError = undefined;
    this.rollups.clear();
    this.readings = [];
    this.events = [];
    this.energy.clear();
    this.accepted = 0;
    this.counters.readingsWritten += accepted;
    this.counters.rawRowsWritten += readings.length;
    this.counters.eventsWritten += events.length;
    this.counters.lastFlushMs = performance.now() - started;
    this.onFlush(accepted, this.counters.lastFlushMs);
    return true;
  }

  health(): WriterHealth {
    return {
      ok: this.lastError === undefined,
      ...(this.lastError !== undefined ? { error: this.lastError } : {}),
      pending: this.accepted + this.events.length,
      ...this.counters,
    };
  }

  /** Whether a reading becomes a raw row: it moved beyond its deadband, is due, or the relay changed. */
  private stored(row: ReadingRow): boolean {
    if (!this.filter) return true;
    const relayChanged = row.relay !== undefined && this.lastRelay.get(row.deviceId) !== row.relay;
    if (row.relay !== undefined) this.lastRelay.set(row.deviceId, row.relay);
    // One reference per device and frame kind, so each kind is stored at least every interval
    // however often the others pass.
    const sample: Sample = {};
    for (const q of QUANTITIES) if (row[q] !== undefined) sample[q] = row[q];
    const key = row.deviceId * 64 + frameKind(row);
    if (!relayChanged) return this.filter.admit(key, sample, row.ts);
    this.filter.record(key, sample, row.ts);
    return true;
  }
}
