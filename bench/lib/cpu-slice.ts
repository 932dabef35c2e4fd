/**
 * A slice of one CPU for a benchmarked process: a cgroup v1 `cpu` group with a CFS quota per
 * period (25 % = 2.5 ms of every 10 ms). A short period models a slower core: the process runs in
 * short bursts instead of being held off for tens of milliseconds, which is how a Raspberry Pi core
 * that is simply slower behaves. The group's CPU time comes from `cpuacct` (the same hierarchy when
 * the controllers are mounted together, as in the guest; a twin group when separate, as on Debian's
 * hybrid layout).
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

/** Where the `cpu` and `cpuacct` controllers of cgroup v1 are mounted, or why there is no slice here. */
export function cpuControllers(): { cpu: string; cpuacct: string } | { error: string } {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '));
  const v1 = mounts.filter((m) => m[2] === 'cgroup');
  const find = (controller: string) => v1.find((m) => m[3].split(',').includes(controller))?.[1];
  const cpu = find('cpu');
  const cpuacct = find('cpuacct');
  if (!cpu || !cpuacct) return { error: 'no cgroup v1 cpu and cpuacct controllers mounted (mount -t cgroup -o cpu,cpuacct ...)' };
  if (!existsSync(join(cpu, 'cpu.cfs_quota_us'))) return { error: `${cpu} has no CFS bandwidth control (CONFIG_CFS_BANDWIDTH)` };
  return { cpu, cpuacct };
}

/** Mounts cgroup v1 cpu and cpuacct together (in the guest, whose /sys has none mounted). */
export function mountCpuControllers(run: (cmd: string, args: string[]) => void): void {
  if ('cpu' in cpuControllers()) return;
  if (!existsSync(join(ROOT, 'cpu,cpuacct'))) {
    run('mount', ['-t', 'tmpfs', '-o', 'mode=755', 'cgroup', ROOT]);
    mkdirSync(join(ROOT, 'cpu,cpuacct'));
  }
  run('mount', ['-t', 'cgroup', '-o', 'cpu,cpuacct', 'cgroup', join(ROOT, 'cpu,cpuacct')]);
}

export interface SliceUsage {
  /** CPU time of the group's tasks, ms. */
  cpuMs: number;
  /** Periods in which the group ran out of its quota, and for how long it was held off, ms. */
  throttledPeriods: number;
  throttledMs: number;
}

export class CpuSlice {
  private readonly dirs: string[];

  /**
   * @param percent share of one CPU (25 = 2.5 ms per 10 ms period)
   * @param periodUs CFS period
   */
  constructor(
    readonly name: string,
    readonly percent: number,
    readonly periodUs = 10_000,
  ) {
    const controllers = cpuControllers();
    if ('error' in controllers) throw new Error(controllers.error);
    this.dirs = [...new Set([controllers.cpu, controllers.cpuacct])].map((root) => join(root, name));
    for (const dir of this.dirs) mkdirSync(dir, { recursive: true });
    const cpu = this.dirs[0];
    writeFileSync(join(cpu, 'cpu.cfs_period_us'), String(periodUs));
    writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(percent >= 100 ? periodUs : Math.round((periodUs * percent) / 100)));
  }

  /** Moves a process, all its threads, into the slice (a process it starts later is in it too). */
  add(pid: number): void {
    for (const dir of this.dirs) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  }

  usage(): SliceUsage {
    const stat = Object.fromEntries(
      readFileSync(join(this.dirs[0], 'cpu.stat'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ') as [string, string]),
    );
    const acct = this.dirs.find((d) => existsSync(join(d, 'cpuacct.usage')))!;
    return {
      cpuMs: Number(readFileSync(join(acct, 'cpuacct.usage'), 'utf8')) / 1e6,
      throttledPeriods: Number(stat.nr_throttled),
      throttledMs: Number(stat.throttled_time) / 1e6,
    };
  }

  /** Removes the group once its processes have exited (the kernel refuses while it has tasks). */
  async remove(): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const left = this.dirs.filter((dir) => {
        try {
          rmdirSync(dir);
          return false;
        } catch (err) {
          return (err as NodeJS.ErrnoException).code !== 'ENOENT';
        }
      });
      if (left.length === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`cgroup ${this.name} still has tasks after 5 s`);
  }
}
