/** The messages between the main thread and the safety worker (safety-worker.ts), typed on both sides. */
import type { LatchKind, Limits, Trip } from './safety-rule.js';

export interface Latch {
  kind: LatchKind;
  reason: string;
}

/** What the worker starts with (its workerData). Devices are named by their key: 'can:3', 'seed'. */
export interface SafetyWorkerInit {
  can: { transport: 'sim' | 'socketcan'; interface: string; protocol: 'v1' | 'seed'; bitrate: number };
  /** The simulated bus to join (VirtualBus name), when `can.transport` is sim. */
  busName?: string;
  /** `safety.gateway_rule`: off, the worker trips nothing but still holds restored latches. */
  gatewayRule: boolean;
  /** The limits of a device the worker has no entry for (the configured defaults). */
  defaults: Limits;
  devices: { key: string; limits: Limits; latch?: Latch }[];
}

/** A question the worker answers with `answer` (a refusal, or none: go ahead). */
export type SafetyRequest =
  | { type: 'may-close'; key: string; name: string }
  /** Checked before the new limits are stored and pushed to the node (a latch the worker holds may refuse them). */
  | { type: 'may-set-limits'; key: string; name: string; limits: Limits }
  | { type: 'reset'; key: string; name: string };

export type ToWorker =
  | (SafetyRequest & { id: number })
  /** New limits, once the node has them: the worker checks against them from now on. */
  | { type: 'limits'; key: string; limits: Limits }
  /** The main thread tripped on a reading (or a lower limit) first: the worker holds the latch too. */
  | { type: 'latch'; key: string; latch: Latch }
  /** The device was removed: its own limits no longer apply. */
  | { type: 'forget'; key: string }
  /** The watchdog: a worker whose event loop runs answers with `pong`. */
  | { type: 'ping' }
  /** Test-only: the worker's event loop busy for `ms`, as a bug's endless loop would keep it. */
  | { type: 'hang-for-test'; ms: number }
  | { type: 'stop' };

export type FromWorker =
  /** The worker's bus is attached: it watches from now on. */
  | { type: 'ready' }
  | { type: 'answer'; id: number; refusal?: string }
  /** The worker opened a relay on a trip (the open command is already on the bus). */
  | { type: 'tripped'; key: string; trip: Trip }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string; detail?: Record<string, unknown> }
  /** Frames the kernel dropped on the worker's own socket (its receive queue was full) since it started. */
  | { type: 'kernel-drops'; total: number }
  | { type: 'pong' }
  | { type: 'stopped' };
