/** Shared pieces of the fault and abuse suites (test/faults, test/faults-slow). */
import Database from 'better-sqlite3';
import type { Gateway } from '../../src/daemon/gateway.js';
import type { LogEvent } from '../../src/gateway/events.js';

/**
 * Shifts the wall clock (Date.now() and `new Date()`) by `offsetMs` from now on, as NTP or a person
 * setting the date would; the monotonic clock (performance.now, timers) is untouched, as in the
 * kernel. Returns the function that restores the real clock.
 */
export function shiftWallClock(offsetMs: number): () => void {
  const RealDate = globalThis.Date;
  const realNow = RealDate.now.bind(RealDate);
  class ShiftedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + offsetMs);
      else super(...(args as [string | number | Date]));
    }
    static override now(): number {
      return realNow() + offsetMs;
    }
  }
  globalThis.Date = ShiftedDate as DateConstructor;
  return () => {
    globalThis.Date = RealDate;
  };
}

/** Everything the gateway puts in its event log and every reading it accepts, from now on. */
export function recordGateway(gateway: Gateway): { log: LogEvent[]; readings: number; stop: () => void } {
  const seen = { log: [] as LogEvent[], readings: 0, stop: () => {} };
  seen.stop = gateway.parts.events.subscribe('test', {
    log: (e) => seen.log.push(e),
    reading: () => seen.readings++,
  });
  return seen;
}

/** Raw reading rows in the gateway's SQLite file, read through a connection of its own (after a flush). */
export function storedReadings(path: string, where = '1 = 1', ...params: unknown[]): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM readings WHERE ${where}`).get(...params) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Readings in the gateway's SQLite file: every reading is counted in its minute's rollup (raw rows are stored on change). */
export function readingsInRollups(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT coalesce(sum(n), 0) FROM readings_1m').pluck().get() as number;
  } finally {
    db.close();
  }
}

/**
 * Readings the gateway accepted (every reading event reaches the writer) that are not in SQLite:
 * flushes first, so only what the database refused or the writer dropped counts.
 */
export function readingsLost(gateway: Gateway, path: string): number {
  gateway.parts.writer.flush();
  const h = gateway.parts.writer.health();
  const accepted = h.readingsWritten + h.readingsDropped + (h.ok ? 0 : h.pending);
  return accepted - readingsInRollups(path);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
