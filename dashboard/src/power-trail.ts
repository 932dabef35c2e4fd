/**
 * Each device's power over the last few minutes, as the live stream brought it (no request of its
 * own): what the cards' sparklines draw. It starts empty when the page opens.
 */
import type { DeviceView } from '../../src/contracts/device.js';

export const TRAIL_MS = 5 * 60_000;
/** One point per second at most: within a second the latest reading wins (the stream sends up to 5). */
const STEP_MS = 1000;

export class PowerTrail {
  private readonly trails = new Map<string, { t: number[]; w: number[] }>();

  record(device: DeviceView, now = Date.now()): void {
    const power = device.available ? device.state.power : undefined;
    if (power === undefined || !Number.isFinite(power)) return;
    let trail = this.trails.get(device.key);
    if (!trail) this.trails.set(device.key, (trail = { t: [], w: [] }));
    const last = trail.t.length - 1;
    if (last >= 0 && Math.floor(trail.t[last] / STEP_MS) === Math.floor(now / STEP_MS)) {
      trail.t[last] = now;
      trail.w[last] = power;
    } else {
      trail.t.push(now);
      trail.w.push(power);
    }
    let old = 0;
    while (old < trail.t.length && trail.t[old] < now - TRAIL_MS) old++;
    trail.t.splice(0, old);
    trail.w.splice(0, old);
  }

  forget(key: string): void {
    this.trails.delete(key);
  }

  /**
   * Times (s) and watts for a chart, the last value held until `now`; undefined with no readings yet.
   */
  series(key: string, now = Date.now()): [number[], number[]] | undefined {
    const trail = this.trails.get(key);
    if (!trail || trail.t.length === 0) return undefined;
    return [[...trail.t, now].map((t) => t / 1000), [...trail.w, trail.w[trail.w.length - 1]]];
  }
}
