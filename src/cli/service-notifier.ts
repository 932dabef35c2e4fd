/**
 * systemd notifications (sd_notify): READY=1, STATUS=, WATCHDOG=1, STOPPING=1, EXTEND_TIMEOUT_USEC=.
 *
 * Node cannot send on an AF_UNIX datagram socket, so each notification runs `systemd-notify`
 * (docs/service.md says why this over a native addon). Its pitfalls, and how they are handled:
 * - the message comes from a child process, so the unit needs NotifyAccess=all;
 * - the child may exit before systemd reads the message, and systemd then cannot tell which unit
 *   sent it; systemd-notify since systemd 246 waits for the manager to process it (a BARRIER=1
 *   round trip), so --no-block must not be used (Debian bookworm has 252);
 * - notifications are sent one at a time, in order, and a watchdog ping is skipped while the
 *   previous one is still on its way rather than piling up.
 * The watchdog is pinged from a timer on the main event loop: a blocked loop stops the pings and
 * systemd restarts the daemon.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../log.js';

export interface NotifierOptions {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** The helper program (tests may point it elsewhere). */
  command?: string;
}

/** How long one systemd-notify may take before it is killed. */
const NOTIFY_TIMEOUT_MS = 5000;

export class ServiceNotifier {
  /** True when started by systemd with Type=notify (NOTIFY_SOCKET set). */
  readonly enabled: boolean;
  private readonly env: NodeJS.ProcessEnv;
  private queue: Promise<void> = Promise.resolve();
  private warned = false;

  constructor(private readonly options: NotifierOptions) {
    this.env = options.env ?? process.env;
    this.enabled = Boolean(this.env.NOTIFY_SOCKET);
  }

  /** The watchdog timeout systemd asked for (WatchdogSec=), unless it is meant for another process. */
  watchdogMs(): number | undefined {
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!this.enabled || !Number.isFinite(usec) || usec <= 0) return undefined;
    if (this.env.WATCHDOG_PID && Number(this.env.WATCHDOG_PID) !== process.pid) return undefined;
    return usec / 1000;
  }

  /** Sends `KEY=value` assignments in one message; resolves when systemd has it (never rejects). */
  notify(...assignments: string[]): Promise<void> {
    if (!this.enabled || assignments.length === 0) return Promise.resolve();
    this.queue = this.queue.then(() => this.send(assignments));
    return this.queue;
  }

  ready(status: string): Promise<void> {
    return this.notify('READY=1', `STATUS=${status}`);
  }

  status(status: string): Promise<void> {
    return this.notify(`STATUS=${status}`);
  }

  stopping(): Promise<void> {
    return this.notify('STOPPING=1', 'STATUS=stopping');
  }

  /** Asks for more start-up time (while waiting for the MQTT broker); not sent after READY=1. */
  extendStartTimeout(ms: number): Promise<void> {
    return this.notify(`EXTEND_TIMEOUT_USEC=${Math.round(ms * 1000)}`);
  }

  /** Pings the watchdog at half its timeout from the main loop; returns the function that stops it. */
  startWatchdog(): () => void {
    const timeoutMs = this.watchdogMs();
    if (timeoutMs === undefined) return () => {};
    let inFlight = false;
    const timer = setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      void this.notify('WATCHDOG=1').finally(() => (inFlight = false));
    }, timeoutMs / 2);
    this.options.log.debug({ timeout_ms: timeoutMs }, 'systemd watchdog enabled');
    return () => clearInterval(timer);
  }

  private send(assignments: string[]): Promise<void> {
    return new Promise((resolve) => {
      const child = spawn(this.options.command ?? 'systemd-notify', assignments, { env: this.env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), NOTIFY_TIMEOUT_MS);
      const done = (problem?: string) => {
        clearTimeout(timer);
        if (problem && !this.warned) {
          this.warned = true; // once: a broken helper must not flood the journal every watchdog ping
          this.options.log.warn({ err: problem, sent: assignments.join(' ') }, 'systemd notification failed');
        }
        resolve();
      };
      child.on('error', (error) => done(`cannot run systemd-notify: ${error.message}`));
      child.on('close', (code, signal) => done(code === 0 ? undefined : stderr.trim() || `systemd-notify exited with ${code ?? signal}`));
    });
  }
}
