/**
 * Retrying with back-off something that may succeed later, such as binding a port another process
 * holds: the first try is awaited, later ones run in the background (1 s, 2 s, 4 s ... 30 s apart)
 * until one succeeds or stop() is called. The daemon keeps running meanwhile; the state says what
 * is missing and why (health).
 */
import type { Logger } from './log.js';

export interface RetryState {
  ok: boolean;
  /** Failed tries so far. */
  failures: number;
  error?: string;
}

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;

export class Retry {
  private failures = 0;
  private error: string | undefined;
  private ok = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    /** What is tried, for the log: "listen for HTTP on 127.0.0.1:8080". */
    private readonly what: string,
    private readonly action: () => Promise<void>,
    private readonly log: Logger,
    private readonly delays = { firstMs: FIRST_DELAY_MS, maxMs: MAX_DELAY_MS },
  ) {}

  /** Tries once; resolves with whether that worked (on failure the retries go on in the background). */
  async start(): Promise<boolean> {
    await this.attempt();
    return this.ok;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  state(): RetryState {
    return { ok: this.ok, failures: this.failures, ...(this.error !== undefined ? { error: this.error } : {}) };
  }

  private async attempt(): Promise<void> {
    try {
      await this.action();
    } catch (error) {
      if (this.stopped) return;
      const message = (error as Error).message;
      const delayMs = Math.min(this.delays.maxMs, this.delays.firstMs * 2 ** this.failures);
      this.failures++;
      // The first failure and every change of reason are warnings; the same reason again is debug.
      this.log[message === this.error ? 'debug' : 'warn'](
        { err: message, retry_in_ms: delayMs, failures: this.failures },
        `cannot ${this.what}; retrying`,
      );
      this.error = message;
      this.timer = setTimeout(() => void this.attempt(), delayMs);
      this.timer.unref();
      return;
    }
    this.ok = true;
    if (this.failures > 0) this.log.info({ failures: this.failures }, `${this.what}: done after ${this.failures} failed tries`);
    this.error = undefined;
  }
}
