/**
 * The device registry: the one owner of device state. Devices come from their sources (CAN nodes,
 * can-nodes.ts; Wi-Fi plugs, src/wifi), which ask the registry to change them (update, reading,
 * markSeen); the registry applies each change and publishes it on the event bus itself, so no
 * module mutates a device and then has to remember to announce it. It keeps devices between runs,
 * marks them offline when they fall silent (damping one that flaps), keeps energy totals
 * monotonic, and runs every measurement past the safety check (firstStage) before any listener.
 */
import type { DeviceKind } from '../contracts/vocabulary.js';
import type { Logger } from '../log.js';
import { monotonicMs } from './clock.js';
import { DEVICE_MODEL, interlocked, type Device, type DeviceChange, type DeviceRecord, type Reading } from './device.js';
import { freeName, nameFormatProblem } from './device-names.js';
import { EnergyTotal } from './energy-total.js';
import { DeviceNameError, RefusedError } from './errors.js';
import type { EventBus } from './events.js';
import { FLAP_WINDOW_MS, FlapDamper } from './node-checks.js';
import type { DeviceStore, StoredDevice } from './storage.js';

export interface RegistryOptions {
  events: EventBus;
  store: DeviceStore;
  log: Logger;
  heartbeatTimeoutMs: number;
}

interface Tracking {
  /** monotonicMs() when last seen: timeouts must not follow wall-clock jumps. */
  lastSeen: number;
  /** Overrides the heartbeat timeout (set through markSeen). */
  timeoutMs?: number;
  /** Availability held back while the device flaps. */
  flap: FlapDamper;
  energy: EnergyTotal;
}

/** The safety check: sees every measurement before any listener; `quarantined` ones are checked but not applied. */
export type FirstStage = (reading: Reading, quarantined: boolean) => void;

/** A flapping device is reported online again after keeping its heartbeat for this many timeouts. */
const FLAP_HOLD_TIMEOUTS = 4;

export class Registry {
  /** Set by Safety.start(): it runs before the bus hears of a reading, whoever subscribed when. */
  firstStage: FirstStage | undefined;
  private readonly devices = new Map<string, DeviceRecord>();
  private readonly tracking = new Map<DeviceRecord, Tracking>();
  /** Devices whose energy total could not be persisted yet (the database refused the write). */
  private readonly energyUnsaved = new Set<DeviceRecord>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RegistryOptions) {}

  /** Loads the devices known from earlier runs; they start offline. */
  load(): void {
    for (const stored of this.options.store.all()) this.add(stored);
  }

  start(): void {
    const period = Math.max(100, Math.min(1000, this.options.heartbeatTimeoutMs / 4));
    this.sweepTimer = setInterval(() => this.sweep(), period);
    this.sweepTimer.unref();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
  }

  list(): Device[] {
    return [...this.devices.values()];
  }

  byKey(key: string): Device | undefined {
    return this.devices.get(key);
  }

  /** Finds a device by friendly name, node id ("3") or key ("can:3"). */
  find(ref: string): Device | undefined {
    for (const device of this.devices.values()) if (device.name === ref) return device;
    if (/^\d+$/.test(ref)) return this.devices.get(`can:${Number(ref)}`);
    return this.devices.get(ref);
  }

  canNode(node: number): Device | undefined {
    return this.devices.get(`can:${node}`);
  }

  /** Returns the device with this key, creating it (persisted) when it is new. */
  ensure(key: string, kind: DeviceKind, defaultName: string, node?: number): Device {
    const existing = this.devices.get(key);
    if (existing) return existing;
    const stored = this.options.store.insert(key, kind, this.freeName(defaultName));
    const device = this.add(stored, node);
    this.options.log.info({ device: device.name, key }, 'new device');
    this.options.events.emit('device.added', device);
    return device;
  }

  rename(device: Device, name: string): void {
    const record = this.record(device);
    const problem = this.nameProblem(name, device);
    if (problem) throw new DeviceNameError(problem);
    const old = record.name;
    this.options.store.rename(record.id, name);
    record.name = name;
    this.options.events.emit('device.renamed', record, old);
  }

  /**
   * Forgets a device. Refused while it is interlocked (it would come back fresh at its next
   * heartbeat, its latch gone) and, unless `force`, while it is online (it would come back at once).
   */
  remove(device: Device, { force = false }: { force?: boolean } = {}): void {
    const record = this.record(device);
    if (interlocked(record))
      throw new RefusedError(`${record.name} is interlocked; reset the latch once its condition has cleared before removing it`);
    if (record.available && !force) {
      throw new RefusedError(
        `${record.name} is online and would come back at its next heartbeat; disconnect it first, or remove it with "force" to do it anyway`,
      );
    }
    this.options.store.remove(record.id);
    this.devices.delete(record.key);
    this.tracking.delete(record);
    this.options.events.emit('device.removed', record);
  }

  /** Why a name cannot be used, or undefined when it can. */
  nameProblem(name: string, device?: Device): string | undefined {
    const problem = nameFormatProblem(name);
    if (problem) return problem;
    const other = [...this.devices.values()].find((d) => d.name === name && d !== device);
    if (other) return `the name "${name}" is already used by ${other.key}`;
    return undefined;
  }

  /**
   * Changes a device and publishes it (device.changed) when anything changed. Settings are stored
   * first: a database that refuses them leaves the device as it was, and the error is thrown.
   */
  update(device: Device, change: DeviceChange): void {
    const record = this.devices.get(device.key);
    if (record !== device) return; // removed meanwhile: nothing to change or announce
    if (this.apply(record, change)) this.options.events.emit('device.changed', record);
  }

  /**
   * A measurement, with the state it brings: applied, checked by safety first (firstStage), then
   * announced (reading: stored, fed to the rules) and published (device.changed).
   */
  reading(reading: Reading, change: DeviceChange = {}): void {
    const record = this.devices.get(reading.device.key);
    if (record !== reading.device) return;
    this.apply(record, change);
    this.runFirstStage(reading, false);
    this.options.events.emit('reading', reading);
    this.options.events.emit('device.changed', record);
  }

  /** A measurement that is not applied (two nodes share a node id): the safety check still sees it. */
  checkOnly(reading: Reading): void {
    this.runFirstStage(reading, true);
  }

  /**
   * Marks a device as seen (a heartbeat, a Wi-Fi broadcast). `timeoutMs` replaces the heartbeat
   * timeout for this device (Wi-Fi plugs broadcast every 5 s, CAN nodes every second).
   */
  markSeen(device: Device, now = Date.now(), timeoutMs?: number): void {
    const record = this.record(device);
    const t = this.tracking.get(record)!;
    record.lastSeen = now;
    t.lastSeen = monotonicMs();
    if (timeoutMs !== undefined) t.timeoutMs = timeoutMs;
    if (record.available) return;
    if (!t.flap.mayComeBack(monotonicMs(), FLAP_HOLD_TIMEOUTS * this.timeoutOf(t))) return;
    this.setAvailable(record, true);
  }

  /** Shows a device offline now, with the reason (two nodes share its node id). */
  markOffline(device: Device, cause: string): void {
    const record = this.record(device);
    if (record.available) this.setAvailable(record, false, cause);
  }

  /**
   * The device's energy counter (Wh) as a monotonic kWh total (EnergyTotal). Every change is
   * persisted (in the daemon, with the next commit of the readings), so a restarted gateway never
   * starts lower than what it last stored.
   */
  energyTotal(device: Device, counterWh: number): number {
    const record = this.record(device);
    const energy = this.tracking.get(record)!.energy;
    const was = energy.lastWh;
    const { changed, wentBack } = energy.update(counterWh, monotonicMs());
    if (wentBack)
      this.options.log.info({ device: record.name, was, now: counterWh }, 'energy counter went back on the node; the total carries on');
    if (changed) this.saveEnergy(record, energy);
    return energy.kWh!;
  }

  /** Undoes a counter reset seen within `windowMs` (it was another node's counter); the total in kWh if one was. */
  undoEnergyReset(device: Device, windowMs: number): number | undefined {
    const record = this.record(device);
    const energy = this.tracking.get(record)!.energy;
    if (!energy.undoResetSince(monotonicMs(), windowMs)) return undefined;
    this.saveEnergy(record, energy);
    return energy.kWh;
  }

  /** Devices whose node id two nodes share, and devices held offline while they flap (health). */
  problems(): { conflicts: string[]; flapping: string[] } {
    const conflicts: string[] = [];
    const flapping: string[] = [];
    for (const [device, t] of this.tracking) {
      if (device.state.conflict !== undefined) conflicts.push(device.name);
      if (t.flap.flapping) flapping.push(device.name);
    }
    return { conflicts, flapping };
  }

  /** The registry's own record of a device handed back to it. */
  private record(device: Device): DeviceRecord {
    const record = this.devices.get(device.key);
    if (!record || record !== device) throw new RefusedError(`${device.name} is no longer a device of this gateway`);
    return record;
  }

  /** Applies a change; true when something other than lastSeen changed. */
  private apply(record: DeviceRecord, change: DeviceChange): boolean {
    if (change.settings) this.options.store.saveSettings(record.id, change.settings);
    let changed = change.settings !== undefined;
    const assign = <T extends object>(target: T, values: Partial<T> | undefined) => {
      for (const [key, value] of Object.entries(values ?? {}) as [keyof T, T[keyof T]][]) {
        if (Object.is(target[key], value)) continue;
        target[key] = value;
        changed = true;
      }
    };
    if (change.settings) record.settings = change.settings;
    assign(record.state, change.state);
    assign(record.info, change.info);
    if (change.framesLost !== undefined && change.framesLost !== record.framesLost) {
      record.framesLost = change.framesLost;
      changed = true;
    }
    if (change.lastSeen !== undefined) record.lastSeen = change.lastSeen;
    return changed;
  }

  /** The safety check is not a listener: it runs first, and its failure neither stops the reading nor goes unseen. */
  private runFirstStage(reading: Reading, quarantined: boolean): void {
    try {
      this.firstStage?.(reading, quarantined);
    } catch (error) {
      this.options.log.error(
        { device: reading.device.name, err: (error as Error).message },
        'the safety check failed on a reading; the safety worker still checks it',
      );
    }
  }

  private add(stored: StoredDevice, node?: number): DeviceRecord {
    const kind = stored.kind;
    const device: DeviceRecord = {
      id: stored.id,
      key: stored.key,
      kind,
      node: node ?? (kind === 'can' ? Number(stored.key.slice(4)) : undefined),
      name: stored.name,
      available: false,
      info: { model: DEVICE_MODEL[kind] },
      state: { nodeHumidityLatched: false, nodePowerLatched: false, fault: false, problems: [] },
      framesLost: 0,
      settings: stored.settings,
    };
    this.devices.set(device.key, device);
    const energy = new EnergyTotal(stored.energyOffsetWh, stored.lastEnergyWh);
    this.tracking.set(device, { lastSeen: 0, flap: new FlapDamper(), energy });
    if (energy.kWh !== undefined) device.state.energy = energy.kWh;
    return device;
  }

  private freeName(name: string): string {
    const free = freeName(name, new Set([...this.devices.values()].map((d) => d.name)));
    if (free === undefined) throw new DeviceNameError(`no device name can be made from "${name.slice(0, 80)}": ${nameFormatProblem(name)}`);
    return free;
  }

  private timeoutOf(t: Tracking): number {
    return t.timeoutMs ?? this.options.heartbeatTimeoutMs;
  }

  private setAvailable(device: DeviceRecord, available: boolean, cause?: string): void {
    device.available = available;
    this.options.log.info({ device: device.name, available }, available ? 'device online' : 'device offline');
    this.options.events.emit('device.availability', device);
    this.options.events.emit('log', {
      ts: Date.now(),
      device,
      type: 'availability',
      cause: cause ?? (available ? 'online' : device.kind === 'can' ? 'heartbeat timeout' : 'no readings or broadcasts'),
      origin: 'gateway',
    });
  }

  private sweep(now = monotonicMs()): void {
    for (const device of this.devices.values()) {
      const t = this.tracking.get(device)!;
      const silent = now - t.lastSeen > this.timeoutOf(t);
      if (device.available && silent) {
        this.setAvailable(device, false);
        if (t.flap.dropped(now) === 'started') this.flapAlarm(device, t, true);
      } else if (silent) {
        t.flap.interrupted();
      } else if (device.available && t.flap.settle(now) === 'cleared') {
        this.flapAlarm(device, t, false);
      }
    }
  }

  /**
   * Persists the energy total. A database that refuses writes (disk full, read-only) must not stop
   * the reading: the total is right in memory and is saved with the next change once writes work.
   */
  private saveEnergy(device: DeviceRecord, energy: EnergyTotal): void {
    try {
      this.options.store.saveEnergy(device.id, energy.offsetWh, energy.lastWh ?? 0);
      if (this.energyUnsaved.delete(device)) this.options.log.info({ device: device.name }, 'energy total saved again');
    } catch (error) {
      if (!this.energyUnsaved.has(device)) {
        this.options.log.warn(
          { device: device.name, err: (error as Error).message },
          'energy total not saved; kept in memory and saved with the next change',
        );
      }
      this.energyUnsaved.add(device);
    }
  }

  private flapAlarm(device: DeviceRecord, t: Tracking, flapping: boolean): void {
    const hold = (FLAP_HOLD_TIMEOUTS * this.timeoutOf(t)) / 1000;
    const cause = `availability flapping: ${t.flap.recentDrops} drops in ${FLAP_WINDOW_MS / 60_000} min; reported online again only after ${hold} s of steady heartbeats`;
    this.options.log.warn({ device: device.name, flapping }, flapping ? cause : 'availability steady again');
    this.options.events.emit('log', { ts: Date.now(), device, type: flapping ? 'alarm' : 'alarm-cleared', cause, origin: 'gateway' });
  }
}
