/**
 * Event-loop lag as the process's own work causes it. A timer due every `intervalMs` measures how
 * late it fires (wall-clock lag); on a loaded machine most of that can be the process waiting for a
 * CPU, not running. So each tick also takes the process's CPU time over the same span: lag that
 * the process spent working is at most that CPU time (all its threads count, so this errs towards
 * more lag). `blockedMs` = min(wall-clock lag, CPU time) is what the code under test caused.
 */
export class LoopLag {
  wallMaxMs = 0;
  blockedMaxMs = 0;
  samples = 0;
  private readonly walls: number[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 10) {}

  start(): void {
    let last = performance.now();
    let cpu = process.cpuUsage();
    this.timer = setInterval(() => {
      const now = performance.now();
      const used = process.cpuUsage(cpu);
      const wall = Math.max(0, now - last - this.intervalMs);
      const cpuMs = (used.user + used.system) / 1000;
      this.samples++;
      this.walls.push(wall);
      this.wallMaxMs = Math.max(this.wallMaxMs, wall);
      this.blockedMaxMs = Math.max(this.blockedMaxMs, Math.min(wall, cpuMs));
      last = now;
      cpu = process.cpuUsage();
    }, this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Starts a new span for the maxima (percentiles cover the whole run). */
  resetMax(): void {
    this.wallMaxMs = 0;
    this.blockedMaxMs = 0;
  }

  wallPercentile(p: number): number {
    const sorted = [...this.walls].sort((a, b) => a - b);
    return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }
}
