/** Runs the `canplug` command line as a user would: a separate process through bin/canplug.js. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/canplug.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `canplug <args>` to completion (killed after `timeoutMs`). */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: { ...cleanEnv(), ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The environment without CANPLUG_* variables of the person running the tests. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('CANPLUG_') && k !== 'NOTIFY_SOCKET' && !k.startsWith('WATCHDOG_')),
  );
}

export interface LogLine {
  msg: string;
  time: number;
  level: number;
  [key: string]: unknown;
}

export interface Daemon {
  child: ChildProcess;
  logs: LogLine[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line matching, waiting up to `timeoutMs`. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  kill(): void;
}

/** Starts `canplug run` with JSON logs on stdout (not a TTY), collecting them. */
export function startDaemon(args: string[], env: NodeJS.ProcessEnv = {}): Daemon {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text, time: Date.now(), level: 0 };
    }
    logs.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(match, timeoutMs = 15_000) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`no matching log line in ${timeoutMs} ms; logs:\n${logs.map((l) => l.msg).join('\n')}\nstderr: ${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then(() =>
          setTimeout(
            () => reject(new Error(`daemon exited before the log line; logs:\n${logs.map((l) => l.msg).join('\n')}\nstderr: ${stderr}`)),
            100,
          ),
        );
      });
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Writes a daemon config for a test: free HTTP port, no UDP, a database in `dir`, JSON logs at info. */
export async function writeDaemonConfig(dir: string, sections: Record<string, Record<string, unknown>>): Promise<string> {
  const { stringify } = await import('yaml');
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const config = {
    http: { port: 0 },
    udp: { port: 0 },
    log: { level: 'info' },
    ...sections,
    database: { path: join(dir, 'canplug.db'), ...sections.database },
  };
  const path = join(dir, 'canplug.yaml');
  writeFileSync(path, stringify(config));
  return path;
}
