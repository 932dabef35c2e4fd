/**
 * "Report on a meaningful change, and at least every N seconds": the policy shared by what
 * publishes readings (MQTT, for Home Assistant's recorder) and what stores them (SQLite, for the
 * SD card). Like zigbee2mqtt's debounce and Tasmota's telemetry period: a value passes when it
 * moved by more than its deadband since the last value that passed, or when the last one that
 * passed is older than `maxIntervalMs`. It holds nothing back: a value either passes now or is
 * dropped (the next one that passes carries the news), so nothing waits on a timer.
 */
import type { Quantity } from '../contracts/vocabulary.js';

/** A quantity's deadband: a change passes when |new - last| > max(absolute, relative * |last|). */
export interface Deadband {
  absolute?: number;
  relative?: number;
}

export interface ChangePolicy {
  deadbands: Partial<Record<Quantity, Deadband>>;
  /** A value passes at least this often even when it has not moved (0: only on change). */
  maxIntervalMs: number;
}

/** The values a sample carries; quantities that are absent are not compared. */
export type Sample = Partial<Record<Quantity, number>>;

interface Passed {
  ts: number;
  values: Sample;
}

/** One filter per sink; `key` is whatever that sink keeps apart (a device, a device and frame type). */
export class ChangeFilter<K> {
  private readonly passed = new Map<K, Passed>();

  constructor(private readonly policy: ChangePolicy) {}

  /** True when the sample should be passed on; it then becomes the reference for the next one. */
  admit(key: K, sample: Sample, now: number): boolean {
    const last = this.passed.get(key);
    if (last && !this.due(last, now) && !this.moved(last.values, sample)) return false;
    this.record(key, sample, now);
    return true;
  }

  /**
   * The sample was passed on for another reason (a relay change is published at once, whatever the
   * readings did): it becomes the reference, and the interval starts again from now.
   */
  record(key: K, sample: Sample, now: number): void {
    const last = this.passed.get(key);
    // Updated in place: a frame that passes allocates nothing here.
    if (!last) this.passed.set(key, { ts: now, values: { ...sample } });
    else {
      last.ts = now;
      Object.assign(last.values, sample);
    }
  }

  /** The sink no longer reports this key (a device removed); its next sample passes. */
  forget(key: K): void {
    this.passed.delete(key);
  }

  private due(last: Passed, now: number): boolean {
    const interval = this.policy.maxIntervalMs;
    // A clock that went backwards counts as due: better one extra report than a silent device.
    return (interval > 0 && now - last.ts >= interval) || now < last.ts;
  }

  private moved(last: Sample, sample: Sample): boolean {
    for (const q of Object.keys(sample) as Quantity[]) {
      const value = sample[q];
      const before = last[q];
      if (value === undefined) continue;
      if (before === undefined) return true;
      const band = this.policy.deadbands[q];
      const threshold = Math.max(band?.absolute ?? 0, (band?.relative ?? 0) * Math.abs(before));
      if (Math.abs(value - before) > threshold) return true;
    }
    return false;
  }
}
