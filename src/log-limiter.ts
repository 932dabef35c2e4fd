/**
 * A bounded log stream for problems that outside input can cause at any rate (bad MQTT payloads,
 * datagrams, failed logins): each reason is logged at most once per interval, and the next line
 * says how many were left out meanwhile. A reason is a category chosen by the caller, never text
 * from the input (or at most a sender's address), so the lines per interval are bounded by
 * `maxReasons`; a reason past that bound is only counted.
 */
export class LogLimiter {
  /** Lines left out by every limiter in the process (health, metrics: one gateway per process). */
  static suppressedTotal = 0;
  private readonly reasons = new Map<string, { lastMs: number; since: number }>();
  private lastSweepMs = -Infinity;

  constructor(
    private readonly intervalMs = 60_000,
    private readonly maxReasons = 200,
  ) {}

  /**
   * Whether to log `reason` now: undefined when the line is left out, else how many lines of this
   * reason were left out since the last one logged (0 the first time).
   */
  take(reason: string, now = performance.now()): number | undefined {
    const seen = this.reasons.get(reason);
    if (seen !== undefined && now - seen.lastMs < this.intervalMs) {
      seen.since++;
      LogLimiter.suppressedTotal++;
      return undefined;
    }
    if (seen === undefined && this.reasons.size >= this.maxReasons) this.sweep(now);
    if (seen === undefined && this.reasons.size >= this.maxReasons) {
      LogLimiter.suppressedTotal++;
      return undefined;
    }
    this.reasons.set(reason, { lastMs: now, since: 0 });
    return seen?.since ?? 0;
  }

  /** Forgets reasons quiet for a whole interval (at most once per interval: a sweep is O(reasons)). */
  private sweep(now: number): void {
    if (now - this.lastSweepMs < this.intervalMs) return;
    this.lastSweepMs = now;
    for (const [reason, seen] of this.reasons) if (now - seen.lastMs >= this.intervalMs) this.reasons.delete(reason);
  }
}
