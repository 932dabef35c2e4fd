/**
 * Time conditions of rules, in the gateway machine's local time (docs/rules.md): windows of the
 * day that may wrap past midnight, days of the week, and the minute a schedule rule is due.
 */
import { DAYS, type Day } from '../contracts/vocabulary.js';

/** Minutes since local midnight of "HH:MM". */
export function minutesOf(time: string): number {
  return Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
}

function minuteOfDay(date: Date): number {
  return date.getHours() * 60 + date.getMinutes();
}

/**
 * Whether `date` is inside the window and on one of the days. A window that wraps past midnight
 * (22:00 to 06:00) belongs to the day it starts: with days [fri], Saturday 03:00 is inside.
 */
export function inWindow(between: { from: string; to: string } | null, days: Day[] | null, date: Date): boolean {
  let day = date.getDay();
  if (between) {
    const now = minuteOfDay(date);
    const from = minutesOf(between.from);
    const to = minutesOf(between.to);
    if (from < to) {
      if (now < from || now >= to) return false;
    } else if (now >= to && now < from) {
      return false;
    } else if (now < to) {
      day = (day + 6) % 7; // the part after midnight belongs to yesterday's window
    }
  }
  return days === null || days.includes(DAYS[day]);
}

/** The local minute, as "YYYY-MM-DD HH:MM", so a schedule fires once per minute it is due. */
export function minuteKey(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Whether a schedule rule ("at" HH:MM on days) is due in the minute of `date`. */
export function scheduleDue(at: string, days: Day[] | null, date: Date): boolean {
  return minuteOfDay(date) === minutesOf(at) && (days === null || days.includes(DAYS[date.getDay()]));
}
