/**
 * Energy per day, week or month (in the gateway's local time zone) from the monotonic kWh counter.
 * A period's energy is the counter's last value before the period ends minus its last value
 * before the period starts, so energy used between the last reading of one day and the first of
 * the next is counted once, and the periods add up exactly to the counter's total.
 */
import type { EnergyPeriod } from '../contracts/vocabulary.js';
import { nextPeriod, periodStart } from '../gateway/energy-periods.js';
import type { EnergyReader, PeriodEnergy } from '../gateway/storage.js';
import type { Db } from './database.js';
import { HOUR_MS } from './rollups.js';

type Lookup = { get(...params: number[]): { t: number; v: number } | undefined };

export class EnergyHistory implements EnergyReader {
  private readonly first: Lookup;
  private readonly lastHourBefore: Lookup;
  private readonly lastMinuteWithin: Lookup;

  constructor(db: Db) {
    // Counter values are stored in Wh (migration 005): kWh here.
    this.first = db.prepare('SELECT t, energy_min / 1000.0 AS v FROM readings_1h WHERE device_id = ? AND energy_n > 0 ORDER BY t LIMIT 1');
    this.lastHourBefore = db.prepare(
      'SELECT t, energy_max / 1000.0 AS v FROM readings_1h WHERE device_id = ? AND t < ? AND energy_n > 0 ORDER BY t DESC LIMIT 1',
    );
    this.lastMinuteWithin = db.prepare(
      'SELECT t, energy_max / 1000.0 AS v FROM readings_1m WHERE device_id = ? AND t >= ? AND t < ? AND energy_n > 0 ORDER BY t DESC LIMIT 1',
    );
  }

  /** The whole periods that overlap [from, to), oldest first; null where no reading falls in a period. */
  perPeriod(deviceId: number, period: EnergyPeriod, from: number, to: number): PeriodEnergy[] {
    const rows: PeriodEnergy[] = [];
    const first = this.first.get(deviceId);
    let start = periodStart(from, period);
    // Without any counter reading (a legacy socket) there is nothing to search for, period by period.
    let before = first ? this.counterBefore(deviceId, start) : undefined;
    while (start < to) {
      const end = nextPeriod(start, period);
      const last = first ? this.counterBefore(deviceId, end) : undefined;
      let kwh: number | null = null;
      if (last && last.t >= start) {
        // The counter is monotonic (the registry carries node resets over); never report negative use.
        kwh = Math.max(0, Math.round((last.v - (before ?? first!).v) * 1000) / 1000);
      }
      rows.push({ start, end, kwh });
      before = last;
      start = end;
    }
    return rows;
  }

  /**
   * The counter's last reading before `t` (to the minute): the hourly rollup finds the hour, the
   * per-minute one the minute. Where the minutes have aged out (database.minute_retention_days) the
   * hour's own last value stands, to the hour (a monotonic counter's max is its last value).
   */
  private counterBefore(deviceId: number, t: number): { t: number; v: number } | undefined {
    const hour = t - (t % HOUR_MS);
    const sameHour = this.lastMinuteWithin.get(deviceId, hour, t);
    if (sameHour) return sameHour;
    const earlier = this.lastHourBefore.get(deviceId, hour);
    return earlier && (this.lastMinuteWithin.get(deviceId, earlier.t, earlier.t + HOUR_MS) ?? earlier);
  }
}
