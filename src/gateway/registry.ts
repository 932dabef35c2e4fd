/**
 * The device registry: devices appear from heartbeats (and the discovery broadcast at start-up),
 * go offline when heartbeats stop, keep their last state, count frames lost from seq gaps,
 * and keep energy monotonic across node reboots and counter resets.
 */
import type { Message, Status } from '../can/codec.js';
import type { SeedReading } from '../can/seed-codec.js';
import type { DeviceStore, StoredDevice } from '../db/devices.js';
import type { Logger } from '../log.js';
import { DEVICE_MODEL, type Device, type DeviceKind, type Reading } from './device.js';
import type { EventBus } from './events.js';
import { monotonicMs } from './clock.js';
import { freeName, nameFormatProblem } from './device-names.js';
import { EnergyTotal } from './energy-total.js';
import { describeNodeEvent } from './node-events.js';
import { FLAP_WINDOW_MS, FlapDamper, IdentityCheck, IDENTITY_WINDOW_MS } from './node-checks.js';

export interface RegistryOptions {
  events: EventBus;
  store: DeviceStore;
  log: Logger;
  heartbeatTimeoutMs: number;
}

export class DeviceNameError extends Error {}

interface Tracking {
  /** monotonicMs() of the last heartbeat (or broadcast): timeouts must not follow wall-clock jumps. */
  lastHeartbeat: number;
  seq: { power?: number; environment?: number };
  statusFault: boolean;
  energy: EnergyTotal;
  /** Overrides the heartbeat timeout (set through markSeen). */
  timeoutMs?: number;
  /** Two nodes on one id (docs/reliability.md). */
  identity: IdentityCheck;
  /** Availability held back while the node flaps. */
  flap: FlapDamper;
}

/** A flapping node is reported online again after keeping its heartbeat for this many timeouts. */
const FLAP_HOLD_TIMEOUTS = 4;

export class Registry {
  private readonly devices = new Map<string, Device>();
  private readonly tracking = new Map<Device, Tracking>();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Frames lost on the bus, from seq gaps, all devices. */
  framesLost = 0;
  /** Frames from a node id two nodes share: not applied (safety still checks them). */
  framesQuarantined = 0;
  /** Devices whose energy total could not be persisted yet (the database refused the write). */
  private readonly energyUnsaved = new Set<Device>();
  /** Sees every measurement before anything else does: the safety check (an explicit stage, not a listener). */
  firstStage: ((reading: Reading, quarantined: boolean) => void) | undefined;

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
    const problem = this.nameProblem(name, device);
    if (problem) throw new DeviceNameError(problem);
    const old = device.name;
    this.options.store.rename(device.id, name);
    device.name = name;
    this.options.events.emit('device.renamed', device, old);
  }

  remove(device: Device): void {
    this.options.store.remove(device.id);
    this.devices.delete(device.key);
    this.tracking.delete(device);
    this.options.events.emit('device.removed', device);
  }

  saveSettings(device: Device, settings: Record<string, unknown>): void {
    this.options.store.saveSettings(device.id, settings);
    device.settings = settings;
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
   * Marks a device as seen (availability from Wi-Fi broadcasts and similar). `timeoutMs` replaces
   * the heartbeat timeout for this device (Wi-Fi plugs broadcast every 5 s, CAN nodes every second).
   */
  markSeen(device: Device, now = Date.now(), timeoutMs?: number): void {
    device.lastSeen = now;
    const t = this.tracking.get(device);
    if (t) t.lastHeartbeat = monotonicMs();
    if (t && timeoutMs !== undefined) t.timeoutMs = timeoutMs;
    if (device.available) return;
    if (t && !t.flap.mayComeBack(monotonicMs(), FLAP_HOLD_TIMEOUTS * (t.timeoutMs ?? this.options.heartbeatTimeoutMs))) return;
    this.setAvailable(device, true);
  }

  /** Applies a state change from outside the CAN path (Wi-Fi plugs, safety) and announces it. */
  changed(device: Device): void {
    this.options.events.emit('device.changed', device);
  }

  /** Announces a measurement: checked by safety first, then stored, fed to rules, published. */
  reading(reading: Reading): void {
    this.firstStage?.(reading, false);
    this.options.events.emit('reading', reading);
    this.options.events.emit('device.changed', reading.device);
  }

  handleMessage(message: Message, now = Date.now()): void {
    if (message.type === 'discovery' || message.type === 'command') return;
    if (message.type === 'heartbeat') {
      this.heartbeat(message, now);
      return;
    }
    const device = this.canNode(message.node);
    if (!device) return; // announced by its heartbeat; the caller asks it to announce itself
    device.lastSeen = now;
    const t = this.tracking.get(device)!;
    if (t.identity.conflict !== undefined) return this.quarantine(device, message, now);
    switch (message.type) {
      case 'power':
        this.countLoss(device, t, 'power', message.seq);
        this.applyStatus(device, t, message.status);
        Object.assign(device.state, { voltage: message.voltage, current: message.current, power: message.power });
        this.reading({ device, ts: now, voltage: message.voltage, current: message.current, power: message.power, relay: message.status.relay });
        return;
      case 'environment':
        this.countLoss(device, t, 'environment', message.seq);
        this.applyStatus(device, t, message.status);
        Object.assign(device.state, {
          humidity: message.humidity,
          temperature: message.temperature,
          nodeHumidityLimit: message.humidityLimit,
          nodeHysteresis: message.hysteresis,
        });
        this.reading({ device, ts: now, humidity: message.humidity, temperature: message.temperature });
        return;
      case 'energy': {
        const energy = this.energy(device, t, message.energyWh);
        device.info.uptime = message.uptime;
        this.reading({ device, ts: now, energy });
        return;
      }
      case 'reply':
        this.applyStatus(device, t, message.status);
        this.changed(device);
        return;
      case 'event':
        this.nodeEvent(device, message, now);
        return;
    }
  }

  /** Legacy profile: one socket, no heartbeat; it is alive while its readings arrive. */
  handleSeed(reading: SeedReading, now = Date.now()): void {
    const device = this.ensure('seed', 'seed', 'seed-socket', 1);
    this.markSeen(device, now);
    device.state[reading.quantity] = reading.value;
    if (reading.quantity === 'power') device.state.relay = reading.value > 0 ? true : device.state.relay;
    this.reading({ device, ts: now, [reading.quantity]: reading.value });
  }

  private add(stored: StoredDevice, node?: number): Device {
    const kind = stored.kind as DeviceKind;
    const device: Device = {
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
    this.tracking.set(device, {
      lastHeartbeat: 0,
      seq: {},
      statusFault: false,
      energy,
      identity: new IdentityCheck(),
      flap: new FlapDamper(),
    });
    if (energy.kWh !== undefined) device.state.energy = energy.kWh;
    return device;
  }

  private freeName(name: string): string {
    const free = freeName(name, new Set([...this.devices.values()].map((d) => d.name)));
    if (free === undefined) throw new DeviceNameError(`no device name can be made from "${name.slice(0, 80)}": ${nameFormatProblem(name)}`);
    return free;
  }

  private heartbeat(message: Extract<Message, { type: 'heartbeat' }>, now: number): void {
    const device = this.ensure(`can:${message.node}`, 'can', `socket-${message.node}`, message.node);
    const t = this.tracking.get(device)!;
    const verdict = t.identity.heartbeat(message.state, message.uptime, monotonicMs());
    if (verdict === 'started') this.conflictStarted(device, t);
    if (verdict === 'cleared') this.conflictCleared(device);
    if (t.identity.conflict !== undefined) return;
    // A reboot (announced, or seen as the uptime going back) restarts the seq counters.
    if (message.state === 'boot' || message.uptime < (device.info.uptime ?? 0)) t.seq = {};
    Object.assign(device.info, { firmware: message.firmware, protocol: message.protocol, nodeState: message.state, uptime: message.uptime });
    device.state.fault = t.statusFault || message.state === 'fault';
    this.markSeen(device, now);
    this.changed(device);
  }

  private setAvailable(device: Device, available: boolean, cause?: string): void {
    device.available = available;
    const t = this.tracking.get(device);
    if (t && !available) t.seq = {}; // frames missed while offline are not "lost" in the seq sense
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
      const silent = now - t.lastHeartbeat > (t.timeoutMs ?? this.options.heartbeatTimeoutMs);
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

  private countLoss(device: Device, t: Tracking, kind: 'power' | 'environment', seq: number): void {
    const last = t.seq[kind];
    t.seq[kind] = seq;
    if (last === undefined) return;
    const gap = (seq - last - 1) & 0xff;
    if (gap >= 128 && t.identity.seqWentBack(kind, last, seq, monotonicMs()) === 'started') this.conflictStarted(device, t);
    if (gap > 0 && gap < 128) {
      // A gap over half the range is a node restart or a duplicate, not loss.
      device.framesLost += gap;
      this.framesLost += gap;
    }
  }

  private applyStatus(device: Device, t: Tracking, status: Status): void {
    device.state.relay = status.relay;
    device.state.nodeHumidityLatched = status.humidityLatched;
    device.state.nodePowerLatched = status.powerLatched;
    t.statusFault = status.sensorFault;
    device.state.fault = status.sensorFault || device.info.nodeState === 'fault';
  }

  /**
   * The node's Wh counter as a monotonic kWh total (EnergyTotal). Every change is persisted (in the
   * daemon, with the next commit of the readings), so a restarted gateway never starts lower than
   * what it last stored.
   */
  private energy(device: Device, t: Tracking, counterWh: number): number {
    const was = t.energy.lastWh;
    const { changed, wentBack } = t.energy.update(counterWh, monotonicMs());
    if (wentBack) this.options.log.info({ device: device.name, was, now: counterWh }, 'energy counter went back on the node; the total carries on');
    if (changed) this.saveEnergy(device, t);
    const kWh = t.energy.kWh!;
    device.state.energy = kWh;
    return kWh;
  }

  /**
   * Persists the energy offset. A database that refuses writes (disk full, read-only) must not stop
   * the reading: the total is right in memory and is saved with the next change once writes work.
   */
  private saveEnergy(device: Device, t: Tracking): void {
    try {
      this.options.store.saveEnergy(device.id, t.energy.offsetWh, t.energy.lastWh ?? 0);
      if (this.energyUnsaved.delete(device)) this.options.log.info({ device: device.name }, 'energy total saved again');
    } catch (error) {
      if (!this.energyUnsaved.has(device)) {
        this.options.log.warn({ device: device.name, err: (error as Error).message }, 'energy total not saved; kept in memory and saved with the next change');
      }
      this.energyUnsaved.add(device);
    }
  }

  /** Devices whose node id two nodes share, and devices held offline while they flap (health). */
  problems(): { conflicts: string[]; flapping: string[] } {
    const conflicts: string[] = [];
    const flapping: string[] = [];
    for (const [device, t] of this.tracking) {
      if (t.identity.conflict !== undefined) conflicts.push(device.name);
      if (t.flap.flapping) flapping.push(device.name);
    }
    return { conflicts, flapping };
  }

  /**
   * Two nodes answer to one id: their frames cannot be told apart, so none is applied to the device
   * or stored; the safety rule still sees the measurements (a trip opens both), and node events are
   * still logged. The device is shown offline with the reason; closes are refused (controller guard).
   */
  private quarantine(device: Device, message: Exclude<Message, { type: 'discovery' | 'command' | 'heartbeat' }>, now: number): void {
    this.framesQuarantined++;
    if (message.type === 'event') return this.nodeEvent(device, message, now);
    if (message.type === 'power') this.firstStage?.({ device, ts: now, voltage: message.voltage, current: message.current, power: message.power }, true);
    if (message.type === 'environment') this.firstStage?.({ device, ts: now, humidity: message.humidity }, true);
  }

  private conflictStarted(device: Device, t: Tracking): void {
    device.state.conflict = `two nodes answer to node id ${device.node} (${t.identity.conflict})`;
    // A counter reset seen just before was the other node's counter: undo it, the total must not jump.
    if (t.energy.undoResetSince(monotonicMs(), IDENTITY_WINDOW_MS)) {
      device.state.energy = t.energy.kWh;
      this.saveEnergy(device, t);
    }
    this.options.log.warn({ device: device.name, node: device.node, conflict: device.state.conflict }, 'node id conflict: frames of this id are no longer applied');
    this.options.events.emit('log', { ts: Date.now(), device, type: 'alarm', cause: device.state.conflict, origin: 'gateway' });
    if (device.available) this.setAvailable(device, false, 'two nodes share the node id');
    this.changed(device);
  }

  private conflictCleared(device: Device): void {
    const was = device.state.conflict;
    device.state.conflict = undefined;
    this.options.log.info({ device: device.name }, 'node id conflict over: one node again');
    this.options.events.emit('log', { ts: Date.now(), device, type: 'alarm-cleared', cause: was, origin: 'gateway' });
  }

  private flapAlarm(device: Device, t: Tracking, flapping: boolean): void {
    const hold = (FLAP_HOLD_TIMEOUTS * (t.timeoutMs ?? this.options.heartbeatTimeoutMs)) / 1000;
    const cause = `availability flapping: ${t.flap.recentDrops} drops in ${FLAP_WINDOW_MS / 60_000} min; reported online again only after ${hold} s of steady heartbeats`;
    this.options.log.warn({ device: device.name, flapping }, flapping ? cause : 'availability steady again');
    this.options.events.emit('log', { ts: Date.now(), device, type: flapping ? 'alarm' : 'alarm-cleared', cause, origin: 'gateway' });
  }

  private nodeEvent(device: Device, message: Extract<Message, { type: 'event' }>, now: number): void {
    const described = describeNodeEvent(message);
    if (described.fault) device.state.fault = true;
    this.options.events.emit('log', { ts: now, device, type: described.type, cause: described.cause, origin: 'node', detail: described.detail });
    this.changed(device);
  }
}
