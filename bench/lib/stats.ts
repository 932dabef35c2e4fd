/** Small statistics and formatting helpers for the benchmarks. */
import { readFileSync } from 'node:fs';

/** The q-quantile (0..1) of the values, nearest rank; NaN for none. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

export function percentiles(values: ArrayLike<number>): Percentiles {
  return {
    p50: round(quantile(values, 0.5), 2),
    p99: round(quantile(values, 0.99), 2),
    max: round(quantile(values, 1), 2),
    n: values.length,
  };
}

export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The median run of several, per numeric field (other fields from the first run). */
export function medianOf<T extends Record<string, unknown>>(runs: T[]): T {
  const out: Record<string, unknown> = { ...runs[0] };
  for (const key of Object.keys(runs[0])) {
    const values = runs.map((r) => r[key]);
    if (values.every((v) => typeof v === 'number')) out[key] = median(values as number[]);
  }
  return out as T;
}

/** A clock comparable across the processes of one machine (ms since the epoch, sub-millisecond). */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export const MB = 1024 * 1024;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** CPU time (user + system, ms) of another process on this machine, from /proc; 0 when unreadable. */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}
