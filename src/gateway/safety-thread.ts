/**
 * The main thread's side of the safety worker: starts it, asks it (with a time limit: no answer is
 * a refusal), passes its trips on, and starts it again if it ever exits or stops answering.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { startWorker } from '../worker-thread.js';
import type { FromWorker, Latch, SafetyRequest, SafetyWorkerInit, ToWorker } from './safety-protocol.js';
import type { Limits, Trip } from './safety-rule.js';

/** An answer later than this is taken as none: the request is refused. */
const ANSWER_MS = 2000;
/** Start-up includes compiling the worker's modules when running from the sources. */
const START_MS = 30_000;
const STOP_MS = 2000;
const MAX_BACKOFF_MS = 2000;
/**
 * The watchdog pings the worker this often; after HUNG_PINGS pings in a row without a pong its event
 * loop is stuck (a bug's endless loop) and it is ended and started again. Counted in pings, not
 * time: a stalled main thread fires one late tick, not a missed answer.
 */
const PING_MS = 1000;
const HUNG_PINGS = 5;

export interface SafetyThreadDeps {
  /** The worker's start data, built at each (re)start from what the main thread holds. */
  init: () => SafetyWorkerInit;
  onTrip: (key: string, trip: Trip) => void;
  log: Logger;
}

export type WorkerState = 'starting' | 'running' | 'restarting' | 'stopped';

export class SafetyThread {
  state: WorkerState = 'stopped';
  restarts = 0;
  /** Trips the worker reported (it had already sent the open). */
  trips = 0;
  /** Times the watchdog ended a worker that had stopped answering (each also counts as a restart). */
  hangs = 0;
  /** Frames the kernel dropped on the worker's own socket, summed over its restarts. */
  kernelDrops = 0;
  private kernelDropsBefore = 0;
  private worker: Worker | undefined;
  private readonly pending = new Map<number, (refusal: string | undefined) => void>();
  private nextId = 1;
  private backoffMs = 100;
  private restartTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private unanswered = 0;
  /** Set once the first start succeeded: only a worker that ran is started again. */
  private started = false;

  constructor(private readonly deps: SafetyThreadDeps) {}

  /** Resolves once the worker watches the bus; rejects when it cannot start. */
  start(): Promise<void> {
    this.state = 'starting';
    const worker = startWorker('./safety-worker', import.meta.url, this.deps.init());
    this.worker = worker;
    worker.unref();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the safety worker did not start within ${START_MS / 1000} s`)), START_MS);
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          this.state = 'running';
          this.started = true;
          this.backoffMs = 100;
          this.watch(worker);
          resolve();
        } else this.onMessage(message);
      });
      worker.on('error', (error) => this.deps.log.error({ err: error.message }, 'safety worker error'));
      worker.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the safety worker exited (code ${code}) before it watched the bus`));
        this.onExit(worker, code);
      });
    });
  }

  async stop(): Promise<void> {
    clearTimeout(this.restartTimer);
    clearInterval(this.pingTimer);
    const worker = this.worker;
    this.state = 'stopped';
    this.worker = undefined;
    this.settleAll('the gateway is shutting down');
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'stop' } satisfies ToWorker);
    const timer = setTimeout(() => void worker.terminate(), STOP_MS);
    await exited;
    clearTimeout(timer);
  }

  /** Test-only hook: ends the worker as a crash would; it is started again like after any exit. */
  async crashForTest(): Promise<void> {
    await this.worker?.terminate();
  }

  /** Test-only hook: keeps the worker's event loop busy for `ms`, as an endless loop would. */
  hangForTest(ms: number): void {
    this.worker?.postMessage({ type: 'hang-for-test', ms } satisfies ToWorker);
  }

  /** The worker's refusal, or undefined when it agrees; a worker that cannot answer refuses. */
  ask(request: SafetyRequest): Promise<string | undefined> {
    const worker = this.worker;
    if (!worker || this.state !== 'running')
      return Promise.resolve(`the safety worker is ${this.state}; refused until it watches the bus again`);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(`the safety worker did not answer within ${ANSWER_MS} ms; refused`);
      }, ANSWER_MS);
      this.pending.set(id, (refusal) => {
        clearTimeout(timer);
        resolve(refusal);
      });
      worker.postMessage({ ...request, id } satisfies ToWorker);
    });
  }

  /** A trip this thread found first: the worker latches too (it keeps a latch it already has). */
  latch(key: string, latch: Latch): void {
    this.worker?.postMessage({ type: 'latch', key, latch } satisfies ToWorker);
  }

  /** New limits for a device, once the node has them. */
  limits(key: string, limits: Limits): void {
    this.worker?.postMessage({ type: 'limits', key, limits } satisfies ToWorker);
  }

  /** A device was removed: the worker drops its limits. */
  forget(key: string): void {
    this.worker?.postMessage({ type: 'forget', key } satisfies ToWorker);
  }

  private onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'answer': {
        const settle = this.pending.get(message.id);
        this.pending.delete(message.id);
        settle?.(message.refusal);
        return;
      }
      case 'tripped':
        this.trips++;
        this.deps.onTrip(message.key, message.trip);
        return;
      case 'log':
        this.deps.log[message.level](message.detail ?? {}, message.msg);
        return;
      case 'kernel-drops':
        this.kernelDrops = this.kernelDropsBefore + message.total;
        return;
      case 'pong':
        this.unanswered = 0;
        return;
    }
  }

  private watch(worker: Worker): void {
    clearInterval(this.pingTimer);
    this.unanswered = 0;
    this.pingTimer = setInterval(() => {
      if (++this.unanswered <= HUNG_PINGS) return worker.postMessage({ type: 'ping' } satisfies ToWorker);
      clearInterval(this.pingTimer);
      this.hangs++;
      // Refused from now on, without waiting for each answer to time out; the exit starts it again.
      this.state = 'restarting';
      this.deps.log.error({ unanswered_pings: HUNG_PINGS }, 'safety worker stopped answering; ending it to start it again');
      void worker.terminate();
    }, PING_MS);
    this.pingTimer.unref();
  }

  private onExit(worker: Worker, code: number): void {
    if (worker === this.worker) clearInterval(this.pingTimer);
    if (worker !== this.worker || this.state === 'stopped' || !this.started) return;
    this.settleAll('the safety worker exited');
    this.kernelDropsBefore = this.kernelDrops;
    this.state = 'restarting';
    this.restarts++;
    this.deps.log.error({ code, restart_in_ms: this.backoffMs }, 'safety worker exited; starting it again');
    this.restartTimer = setTimeout(() => {
      this.start().catch((error: Error) => this.deps.log.error({ err: error.message }, 'safety worker failed to start'));
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
  }

  private settleAll(why: string): void {
    for (const settle of this.pending.values()) settle(`${why}; refused`);
    this.pending.clear();
  }
}
