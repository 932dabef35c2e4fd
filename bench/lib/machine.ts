/** Where and when the numbers were taken: machine, Node, git revision, load. */
import { execFileSync } from 'node:child_process';
import { cpus, freemem, loadavg, totalmem, hostname, release } from 'node:os';
import { round } from './stats.js';

function git(...args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

export function machineInfo() {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memory_gb: round(totalmem() / 1024 ** 3, 1),
    free_memory_gb: round(freemem() / 1024 ** 3, 1),
    os: `${process.platform} ${release()}`,
    hostname: hostname(),
  };
}

export function revision() {
  return {
    commit: git('rev-parse', '--short', 'HEAD') ?? 'unknown',
    branch: git('rev-parse', '--abbrev-ref', 'HEAD') ?? 'unknown',
    dirty: (git('status', '--porcelain', '--untracked-files=no') ?? '') !== '',
  };
}

/** The 1, 5 and 15 minute load averages, rounded. */
export function load(): number[] {
  return loadavg().map((x) => round(x, 2));
}
