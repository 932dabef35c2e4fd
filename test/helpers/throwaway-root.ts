/**
 * A throwaway root for the install tests: commands run as root in a private mount namespace whose
 * /etc and /var/lib are overlays on this machine's, so whatever they write there (the service user
 * in /etc/passwd, /etc/canplug, /var/lib/canplug) lands in a temporary directory instead. That lets
 * deploy/install.sh do a real install, not a staged one, and the service run as its own user,
 * without changing this machine. A running systemd is hidden (install.sh then enables nothing).
 * Needs root, unshare(1) and overlayfs: `throwawayRootTest()` skips with the reason where they are
 * missing, unless CANPLUG_REQUIRE_INSTALL=1 (CI), which makes that a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OVERLAID = ['/etc', '/var/lib'];

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ThrowawayRoot {
  /** The temporary directory holding the overlays' writable layers (and anything else the test puts there). */
  dir: string;
  /** Where a file written in the namespace under /etc or /var/lib is, seen from this machine. */
  hostPath(path: string): string;
  /** Runs a command as root in the namespace, to completion. */
  run(argv: string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult>;
  /** Starts a command in the namespace; the returned process is the command itself (exec all the way). */
  spawn(argv: string[], options?: { env?: NodeJS.ProcessEnv }): ChildProcess;
  /** Removes the temporary directory (after every process in the namespace has exited). */
  close(): void;
}

const layer = (dir: string, path: string) => join(dir, path.slice(1).replaceAll('/', '-'));

function mountScript(dir: string): string {
  const mounts = OVERLAID.map(
    (path) => `mount -t overlay overlay -o lowerdir=${path},upperdir=${layer(dir, path)}/upper,workdir=${layer(dir, path)}/work ${path}`,
  );
  return ['set -e', ...mounts, 'if [ -d /run/systemd/system ]; then mount -t tmpfs tmpfs /run/systemd; fi', 'exec "$@"'].join('\n');
}

/** Why no throwaway root can be made here, or undefined when it can. */
export function throwawayRootUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the install tests need root (they install as deploy/README.md does, in a private mount namespace)';
  const dir = mkdtempSync(join(tmpdir(), 'canplug-root-probe-'));
  try {
    for (const path of OVERLAID) for (const sub of ['upper', 'work']) mkdirSync(join(layer(dir, path), sub), { recursive: true });
    const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', mountScript(dir), 'sh', 'true'], {
      encoding: 'utf8',
    });
    if (probe.error) return `unshare is not available (${probe.error.message}; Debian package util-linux)`;
    if (probe.status !== 0) return `cannot mount overlays in a private mount namespace: ${probe.stderr.trim()}`;
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Options for `test()`: skipped with the reason where no throwaway root can be made, unless required. */
export function throwawayRootTest(): { skip?: string } {
  const reason = throwawayRootUnavailable();
  if (!reason || process.env.CANPLUG_REQUIRE_INSTALL === '1') return {};
  return { skip: `${reason}; set CANPLUG_REQUIRE_INSTALL=1 to fail instead` };
}

export function makeThrowawayRoot(): ThrowawayRoot {
  const reason = throwawayRootUnavailable();
  if (reason) throw new Error(`CANPLUG_REQUIRE_INSTALL=1 but no throwaway root can be made: ${reason}`);
  const dir = mkdtempSync(join(tmpdir(), 'canplug-root-'));
  // A prefix made in here must be readable by the service user, as /usr/local is.
  chmodSync(dir, 0o755);
  for (const path of OVERLAID) for (const sub of ['upper', 'work']) mkdirSync(join(layer(dir, path), sub), { recursive: true });
  const argvFor = (argv: string[]) => ['--mount', '--propagation', 'private', 'sh', '-c', mountScript(dir), 'sh', ...argv];
  const started = new Set<ChildProcess>();

  return {
    dir,
    hostPath(path) {
      const base = OVERLAID.find((p) => path === p || path.startsWith(`${p}/`));
      if (!base) throw new Error(`${path} is not under ${OVERLAID.join(' or ')}`);
      return join(layer(dir, base), 'upper', path.slice(base.length));
    },
    run(argv, options = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn('unshare', argvFor(argv), { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    },
    spawn(argv, options = {}) {
      const child = spawn('unshare', argvFor(argv), { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      started.add(child);
      child.on('exit', () => started.delete(child));
      return child;
    },
    close() {
      for (const child of started) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
