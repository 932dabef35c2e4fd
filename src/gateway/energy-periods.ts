/** Calendar periods for energy use (day, ISO week from Monday, month), in the gateway's local time zone. */
import type { EnergyPeriod } from '../contracts/vocabulary.js';

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
