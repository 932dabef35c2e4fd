/**
 * Time for timeouts, watchdogs and rate limits: monotonic, so a wall-clock jump (NTP correcting a
 * Pi that booted without a real-time clock, a person setting the date, DST never mattered) neither
 * makes every device look silent for hours nor freezes a timeout. Stored and published timestamps
 * stay wall-clock (Date.now()); only durations use this. docs/reliability.md, "Clock jumps".
 */
export function monotonicMs(): number {
  return performance.now();
}
