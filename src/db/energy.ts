/**
 * Energy per day, week or month (in the gateway's local time zone) from the monotonic kWh counter.
 * A period's energy is the counter's last value before the period ends minus its last value
 * before the period starts, so energy used between the last reading of one day and the first of
 * the next is counted once, and the periods add up exactly to the counter's total.
 */
import type { Db } from './database.js';
import { HOUR_MS } from './rollups.js';

export const ENERGY_PERIODS = ['day', 'week', 'month'] as const;
export type EnergyPeriod = (typeof ENERGY_PERIODS)[number];

export interface EnergyRow {
  start: number;
  end: number;
  /** null: no counter reading covers this period. */
  kwh: number | null;
}

/** Start of the local day, ISO week (Monday) or month containing `t`. */
export function periodStart(t: number, period: EnergyPeriod): number {
  const d = new Date(t);
  if (period === 'month') return new Date(d.getFullYear(), d.getMonth(), 1).getTime();
  const day = new Date(d.getFullYear(), d.getMonth(), d.getDate());
  if (period === 'week') day.setDate(day.getDate() - ((day.getDay() + 6) % 7));
  return day.getTime();
}

/** Start of the next period (local calendar arithmetic, so DST days have 23 or 25 hours). */
export function nextPeriod(start: number, period: EnergyPeriod): number {
  const d = new Date(start);
  if (period === 'month') return new Date(d.getFullYear(), d.getMonth() + 1, 1).getTime();
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + (period === 'week' ? 7 : 1)).getTime();
}

type One = { get(...params: number[]): { v: number } | undefined };

export class EnergyHistory {
  private readonly first: One;
  private readonly lastHourBefore: One;
  private readonly lastMinuteWithin: One;

  constructor(db: Db) {
    this.first = db.prepare(
      `SELECT energy_min AS v FROM readings_1m WHERE device_id = ? AND energy_n > 0 AND t >= coalesce(
         (SELECT t FROM readings_1h WHERE device_id = ? AND energy_n > 0 ORDER BY t LIMIT 1), 0)
       ORDER BY t LIMIT 1`,
    );
    this.lastHourBefore = db.prepare('SELECT energy_max AS v FROM readings_1h WHERE device_id = ? AND t < ? AND energy_n > 0 ORDER BY t DESC LIMIT 1');
    this.lastMinuteWithin = db.prepare(
      'SELECT energy_max AS v FROM readings_1m WHERE device_id = ? AND t >= ? AND t < ? AND energy_n > 0 ORDER BY t DESC LIMIT 1',
    );
  }

  /** The whole periods that overlap [from, to), oldest first. */
  perPeriod(deviceId: number, period: EnergyPeriod, from: number, to: number): EnergyRow[] {
    const rows: EnergyRow[] = [];
    const first = this.first.get(deviceId, deviceId)?.v;
    let start = periodStart(from, period);
    if (first === undefined) {
      // No counter at all (a legacy socket): do not search the rollups once per period.
      for (; start < to; start = nextPeriod(start, period)) rows.push({ start, end: nextPeriod(start, period), kwh: null });
      return rows;
    }
    let before = this.counterBefore(deviceId, start);
    while (start < to) {
      const end = nextPeriod(start, period);
      const atEnd = this.counterBefore(deviceId, end);
      const atStart = before ?? (atEnd !== undefined ? first : undefined);
      // The counter is monotonic (the registry carries node resets over); never report negative use.
      rows.push({ start, end, kwh: atEnd === undefined || atStart === undefined ? null : Math.max(0, Math.round((atEnd - atStart) * 1000) / 1000) });
      before = atEnd;
      start = end;
    }
    return rows;
  }

  /** The counter's last value before `t`: whole hours from the hourly rollup, the rest by minute. */
  private counterBefore(deviceId: number, t: number): number | undefined {
    const hour = t - (t % HOUR_MS);
    return this.lastMinuteWithin.get(deviceId, hour, t)?.v ?? this.lastHourBefore.get(deviceId, hour)?.v;
  }
}
