/**
 * Firmware updates of the CAN sockets (docs/firmware-updates.md): a queue that updates
 * `firmware.parallel` sockets at a time (one by default), each through firmware-session.ts, with its
 * status announced on the event bus (REST, live stream, Home Assistant's update entity) and recorded
 * in the event log. While a socket updates, closing its relay is refused here too: the node holds
 * its relay in its power-on state until the update ends.
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { CanBus } from '../can/can-bus.js';
import { pacingGapMs } from '../can/isotp.js';
import type { Logger } from '../log.js';
import type { Commands } from './commands.js';
import type { Config } from '../config/config.js';
import { InvalidRequestError, NotConfiguredError, RefusedError, UnavailableError } from './errors.js';
import type { DeviceControl } from './control.js';
import type { Device } from './device.js';
import type { EventBus } from './events.js';
import { BundleError, loadSigningKey, readBundleFile, verifyBundle, type Bundle, type VerifiedBundle } from './firmware-bundle.js';
import type { FirmwareStage, FirmwareStatus } from '../contracts/firmware.js';
import { runSession } from './firmware-session.js';
import type { Registry } from './registry.js';

/** Where the bundle and the signing key live: configured, else beside the database. */
export function firmwarePaths(config: Config): { bundle: string; key: string } {
  const dir = dirname(config.database.path);
  return { bundle: config.firmware.bundle || join(dir, 'firmware-bundle.json'), key: config.firmware.key || join(dir, 'firmware-key.pem') };
}

export interface FirmwareUpdaterDeps {
  bus: CanBus;
  commands: Commands;
  registry: Registry;
  control: DeviceControl;
  events: EventBus;
  config: Config;
  log: Logger;
}

interface Job {
  device: Device;
  bundle: VerifiedBundle;
  status: FirmwareStatus;
}

const ACTIVE: readonly FirmwareStage[] = ['queued', 'checking', 'transferring', 'installing', 'confirming'];
const PROGRESS_EVERY_MS = 250;

export class FirmwareUpdater {
  private readonly statuses = new Map<string, FirmwareStatus>();
  private readonly queue: Job[] = [];
  private running = 0;
  private readonly abort = new AbortController();
  private removeGuard: (() => void) | undefined;
  private cached: { mtimeMs: number; bundle: VerifiedBundle } | undefined;
  private readonly paths: { bundle: string; key: string };

  constructor(private readonly deps: FirmwareUpdaterDeps) {
    this.paths = firmwarePaths(deps.config);
  }

  start(): void {
    this.removeGuard = this.deps.control.addGuard((device) =>
      this.updating(device)
        ? `${device.name}: a firmware update is running; the relay stays in its power-on state until it ends`
        : undefined,
    );
  }

  stop(): void {
    this.removeGuard?.();
    this.queue.length = 0;
    this.abort.abort();
  }

  updating(device: Device): boolean {
    const stage = this.statuses.get(device.key)?.stage;
    return stage !== undefined && ACTIVE.includes(stage);
  }

  /** The last update of each socket, running or ended. */
  list(): FirmwareStatus[] {
    return [...this.statuses.values()];
  }

  status(device: Device): FirmwareStatus | undefined {
    return this.statuses.get(device.key);
  }

  /** The version of the configured bundle (what Home Assistant offers), or undefined when there is none. */
  latestVersion(): string | undefined {
    try {
      return this.configuredBundle().version;
    } catch {
      return undefined;
    }
  }

  /** Queues an update of `device` with `bundle` (default: the configured one); the status it starts with. */
  update(device: Device, origin: FirmwareStatus['origin'], bundle?: Bundle): FirmwareStatus {
    if (device.kind !== 'can' || device.node === undefined)
      throw new RefusedError(`${device.name} is not a CAN socket: only they take firmware over the bus`);
    if (this.deps.bus.protocol !== 'v1')
      throw new RefusedError('firmware updates need protocol v1 (the legacy seed socket has no transfer ids)');
    if (this.updating(device)) throw new UnavailableError(`${device.name} is already being updated`);
    if (!device.available) throw new UnavailableError(`${device.name} is offline`);
    let verified: VerifiedBundle;
    try {
      verified = bundle ? verifyBundle(bundle, this.key()) : this.configuredBundle();
    } catch (error) {
      if (error instanceof BundleError) throw bundle ? new InvalidRequestError(error.message) : new NotConfiguredError(error.message);
      throw error;
    }
    const status: FirmwareStatus = {
      device: device.name,
      key: device.key,
      node: device.node,
      stage: 'queued',
      from: device.info.firmware,
      to: verified.version,
      progress: 0,
      sentBytes: 0,
      totalBytes: 0,
      copiedFiles: 0,
      origin,
      startedAt: new Date().toISOString(),
    };
    this.statuses.set(device.key, status);
    this.queue.push({ device, bundle: verified, status });
    this.announce(status);
    this.deps.events.emit('log', {
      ts: Date.now(),
      device,
      type: 'firmware',
      cause: 'queued',
      origin,
      detail: { from: status.from ?? null, to: status.to },
    });
    const queued = { ...status };
    this.next();
    return queued;
  }

  private key(): KeyObject {
    return loadSigningKey(this.paths.key);
  }

  private configuredBundle(): VerifiedBundle {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.paths.bundle).mtimeMs;
    } catch {
      throw new BundleError(`no firmware bundle at ${this.paths.bundle}: make one with "canplug firmware build"`);
    }
    if (this.cached?.mtimeMs !== mtimeMs) this.cached = { mtimeMs, bundle: verifyBundle(readBundleFile(this.paths.bundle), this.key()) };
    return this.cached.bundle;
  }

  private next(): void {
    while (this.running < this.deps.config.firmware.parallel && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      void this.run(job).finally(() => {
        this.running--;
        this.next();
      });
    }
  }

  private async run(job: Job): Promise<void> {
    const { device, bundle, status } = job;
    const c = this.deps.config;
    const started = performance.now();
    let lastAnnounced = 0;
    const set = (changes: Partial<FirmwareStatus>, force = true) => {
      Object.assign(status, changes);
      const now = performance.now();
      if (force || now - lastAnnounced >= PROGRESS_EVERY_MS) {
        lastAnnounced = now;
        this.announce(status);
      }
    };
    try {
      await runSession({
        bus: this.deps.bus,
        commands: this.deps.commands,
        node: device.node!,
        bundle,
        from: status.from,
        gapMs: pacingGapMs(c.can.bitrate, c.firmware.bus_share),
        flowTimeoutMs: c.firmware.flow_timeout_ms,
        answerTimeoutMs: c.firmware.answer_timeout_ms,
        confirmTimeoutMs: c.firmware.confirm_timeout_s * 1000,
        signal: this.abort.signal,
        onStage: (stage) => {
          if (stage === 'confirming') status.transferMs = Math.round(performance.now() - started);
          set({ stage, progress: stage === 'installing' ? 95 : stage === 'confirming' ? 97 : status.progress });
        },
        onProgress: (sentBytes, totalBytes) => set({ sentBytes, totalBytes, progress: Math.floor((95 * sentBytes) / totalBytes) }, false),
        onInfo: (info) => set({ nodeFreeBytes: info.freeBytes, nodeBlockSize: info.blockSize }, false),
        onCopied: () => set({ copiedFiles: status.copiedFiles + 1 }, false),
      });
      set({ stage: 'installed', progress: 100, finishedAt: new Date().toISOString() });
      this.deps.log.info({ device: device.name, from: status.from, to: status.to, transfer_ms: status.transferMs }, 'firmware installed');
      this.deps.events.emit('log', {
        ts: Date.now(),
        device,
        type: 'firmware',
        cause: 'installed',
        origin: status.origin,
        detail: { from: status.from ?? null, to: status.to },
      });
    } catch (error) {
      const message = (error as Error).message;
      set({ stage: 'failed', error: message, finishedAt: new Date().toISOString() });
      this.deps.log.warn({ device: device.name, to: status.to, err: message }, 'firmware update failed');
      this.deps.events.emit('log', {
        ts: Date.now(),
        device,
        type: 'firmware',
        cause: 'failed',
        origin: status.origin,
        detail: { to: status.to, error: message },
      });
    }
  }

  private announce(status: FirmwareStatus): void {
    this.deps.events.emit('firmware.status', { ...status });
  }
}
