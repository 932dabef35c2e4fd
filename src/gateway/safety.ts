/**
 * The gateway's backup safety rule, main-thread side (docs/safety.md, layer 3). The rule itself also
 * runs in the safety worker (layer 2, safety-worker.ts), which opens the relay from its own CAN
 * access even while this thread's event loop is stalled. Here every reading meets the same rule
 * first (Registry.firstStage), before rules, MQTT or storage see it: at or over a limit the relay
 * is opened from this thread too (Wi-Fi plugs only from here), the trip is recorded and latched,
 * and every close is refused until the condition has cleared AND a person resets it (or the device
 * re-arms automatically when configured). Closes, limit changes and resets also ask the worker,
 * which holds the latches that count. Watchdogs raise alarms when a relay does not open, when a
 * closed socket's humidity goes stale, and when a node reports a sensor fault.
 */
import type { Origin } from '../contracts/vocabulary.js';
import type { Commands } from './commands.js';
import type { Config } from '../config/config.js';
import type { DeviceControl } from './control.js';
import { LimitError, RefusedError } from './errors.js';
import { interlocked, relayReportDelayMs, type Device, type Reading } from './device.js';
import type { EventBus } from './events.js';
import type { Registry } from './registry.js';
import type { Logger } from '../log.js';
import { monotonicMs } from './clock.js';
import type { Latch, SafetyWorkerInit } from './safety-protocol.js';
import {
  humidityResetRefusal,
  loosened,
  overLimit,
  rearmLevel,
  type LatchKind,
  type Limits,
  type LimitsPatch,
  type Trip,
} from './safety-rule.js';
import { SafetyThread } from './safety-thread.js';

export { LimitsPatch, loosened, type Limits } from './safety-rule.js';

/** Every time here is monotonicMs(): a wall-clock jump must neither raise nor hide an alarm. */
interface Watch {
  latch?: LatchKind;
  openExpectedSince?: number;
  lastHumidityAt?: number;
  closedSince?: number;
  lastOpenResent: number;
  lastLimitPush: number;
  alarms: Map<string, string>;
}

export interface SafetyDeps {
  events: EventBus;
  registry: Registry;
  control: DeviceControl;
  commands: Commands;
  config: Config['safety'];
  /** The CAN settings, for the worker's own access to the bus. */
  can: Config['can'];
  /** The simulated bus's name, when the transport is sim: the worker joins the same bus. */
  busName?: string;
  /** `udp.report_period_ms`: a Wi-Fi plug shows an open in a broadcast up to two periods later. */
  wifiReportPeriodMs: number;
  log: Logger;
}

const TICK_MS = 250;
/** While latched, a relay reported closed gets another open at most this often. */
const RESEND_OPEN_MS = 1000;
const LIMIT_PUSH_MS = 30_000;

export class Safety {
  /** Trips by the gateway rule (the nodes' own: CanNodes.nodeTrips; the metric counts both). */
  trips = 0;
  /** The safety worker (layer 2). */
  readonly worker: SafetyThread;
  private readonly watches = new Map<Device, Watch>();
  private cleanups: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SafetyDeps) {
    this.worker = new SafetyThread({
      init: () => this.workerInit(),
      onTrip: (key, trip) => this.onWorkerTrip(key, trip),
      log: deps.log.child({ thread: 'safety-worker' }),
    });
  }

  /** Resolves once the worker watches the bus: nothing may switch a relay before. */
  async start(): Promise<void> {
    const { events, control, registry } = this.deps;
    this.restoreLatches();
    // Two nodes on one id: their readings are not applied, but one over a limit still trips (opens both).
    registry.firstStage = (reading, quarantined) => (quarantined ? this.evaluate(reading.device, reading) : this.onReading(reading));
    this.cleanups.push(
      () => (registry.firstStage = undefined),
      control.addGuard((device) => this.closeRefusal(device)),
      events.subscribe('safety', {
        'relay.sent': (device, action) => this.onRelaySent(device, action),
        'device.availability': (device) => {
          if (device.available) this.pushPowerLimit(device);
        },
        'device.removed': (device) => {
          this.watches.delete(device);
          this.worker.forget(device.key);
        },
      }),
    );
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    await this.worker.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    await this.worker.stop();
  }

  /** The close guard: this thread's latch, then the worker's (which also refuses when it cannot answer). */
  private async closeRefusal(device: Device): Promise<string | undefined> {
    if (device.state.gatewayLatch) {
      return `${device.name} is interlocked by the gateway: ${device.state.gatewayLatch}; a person must reset it once the condition has cleared`;
    }
    return this.worker.ask({ type: 'may-close', key: device.key, name: device.name });
  }

  /** The worker tripped (and opened): latch here too, if this thread has not seen that reading yet. */
  private onWorkerTrip(key: string, trip: Trip): void {
    const device = this.deps.registry.byKey(key);
    if (device) this.trip(device, trip);
    else this.deps.log.warn({ key, reason: trip.reason }, 'the safety worker opened a node that has not announced itself yet');
  }

  private workerInit(): SafetyWorkerInit {
    const { can, config, busName, registry } = this.deps;
    const defaults: Limits = {
      humidity_limit: config.humidity_limit,
      humidity_hysteresis: config.humidity_hysteresis,
      power_limit_w: config.power_limit_w,
      current_limit_a: config.current_limit_a,
      auto_rearm: config.auto_rearm,
    };
    const devices = registry.list().map((d) => {
      const kind = this.watches.get(d)?.latch;
      const latch: Latch | undefined = kind && d.state.gatewayLatch ? { kind, reason: d.state.gatewayLatch } : undefined;
      return { key: d.key, limits: this.limits(d), latch };
    });
    return {
      can: { transport: can.transport, interface: can.interface, protocol: can.protocol, bitrate: can.bitrate },
      busName,
      gatewayRule: config.gateway_rule,
      defaults,
      devices,
    };
  }

  /** The limits in force for a device: its own overrides over the configured defaults. */
  limits(device: Device): Limits {
    const c = this.deps.config;
    const own = (device.settings.safety ?? {}) as LimitsPatch;
    return {
      humidity_limit: own.humidity_limit ?? c.humidity_limit,
      humidity_hysteresis: own.humidity_hysteresis ?? c.humidity_hysteresis,
      power_limit_w: own.power_limit_w ?? c.power_limit_w,
      current_limit_a: own.current_limit_a ?? c.current_limit_a,
      auto_rearm: own.auto_rearm ?? c.auto_rearm,
    };
  }

  /** Changes a device's limits, stores them and pushes them to the node (opcodes 0x03 and 0x07). */
  async setLimits(device: Device, patch: LimitsPatch, origin: Origin): Promise<Limits> {
    const next = { ...this.limits(device), ...patch };
    if (next.humidity_hysteresis >= next.humidity_limit) {
      throw new LimitError(
        `humidity_hysteresis (${next.humidity_hysteresis}) must be below humidity_limit (${next.humidity_limit}), or the latch could never re-arm`,
      );
    }
    // Raising a limit and then resetting would end a latch whose condition never cleared: while a
    // device is interlocked its limits may only get stricter (docs/security.md).
    const looser = interlocked(device) ? loosened(this.limits(device), next) : [];
    const refusal =
      looser.length > 0
        ? `${device.name} is interlocked: its limits cannot be loosened (${looser.join(', ')}) until the latch is reset under the limits it tripped on`
        : await this.worker.ask({ type: 'may-set-limits', key: device.key, name: device.name, limits: next });
    if (refusal) {
      this.deps.events.emit('log', {
        ts: Date.now(),
        device,
        type: 'refusal',
        cause: refusal,
        origin,
        detail: { request: 'limits', ...patch },
      });
      throw new RefusedError(refusal);
    }
    const own = { ...((device.settings.safety ?? {}) as LimitsPatch), ...patch };
    this.deps.registry.update(device, { settings: { ...device.settings, safety: own } });
    this.deps.events.emit('log', { ts: Date.now(), device, type: 'limit', cause: 'limits changed', origin, detail: { ...patch } });
    try {
      if (device.kind === 'can' && device.available) {
        const pushes: Promise<unknown>[] = [];
        if (patch.humidity_limit !== undefined || patch.humidity_hysteresis !== undefined) {
          pushes.push(this.command(device, { op: 'setHumidityLimit', limit: next.humidity_limit, hysteresis: next.humidity_hysteresis }));
        }
        if (patch.power_limit_w !== undefined) pushes.push(this.command(device, { op: 'setPowerLimit', watts: next.power_limit_w }));
        await Promise.all(pushes);
      }
    } finally {
      // The node first: on a lower power limit it trips and latches itself before the worker would.
      this.worker.limits(device.key, next);
    }
    // A lower limit may already be exceeded.
    this.evaluate(device, {
      device,
      ts: Date.now(),
      humidity: device.state.humidity,
      power: device.state.power,
      current: device.state.current,
    });
    return next;
  }

  /** A person resets the latch; refused while the condition has not cleared. */
  async reset(device: Device, origin: Origin): Promise<void> {
    try {
      await this.tryReset(device, origin);
    } catch (error) {
      if (error instanceof RefusedError) {
        this.deps.events.emit('log', {
          ts: Date.now(),
          device,
          type: 'refusal',
          cause: error.message,
          origin,
          detail: { request: 'reset' },
        });
      }
      throw error;
    }
  }

  private async tryReset(device: Device, origin: Origin): Promise<void> {
    const limits = this.limits(device);
    const w = this.watch(device);
    if (w.latch === 'humidity' || device.state.nodeHumidityLatched) {
      const stale = w.alarms.has('humidity-stale');
      const refusal = humidityResetRefusal(device.name, limits, stale ? undefined : device.state.humidity);
      if (refusal) throw new RefusedError(refusal);
    }
    if (device.kind === 'can' && (device.state.nodeHumidityLatched || device.state.nodePowerLatched)) {
      const reply = await this.deps.commands.send(device.node!, { op: 'resetLatch' });
      if (reply.result === 'interlocked')
        throw new RefusedError(`${device.name}: the node refused the reset: its own sensor still reads over the re-arm level`);
    }
    const refusal = await this.worker.ask({ type: 'reset', key: device.key, name: device.name });
    if (refusal) throw new RefusedError(refusal);
    const was = device.state.gatewayLatch;
    this.setLatch(device, undefined);
    this.deps.events.emit('log', {
      ts: Date.now(),
      device,
      type: 'reset',
      cause: was ? `latch reset (${was})` : 'latch reset',
      origin,
    });
  }

  private watch(device: Device): Watch {
    let w = this.watches.get(device);
    if (!w) {
      w = { lastOpenResent: -Infinity, lastLimitPush: -Infinity, alarms: new Map() };
      this.watches.set(device, w);
    }
    return w;
  }

  private onReading(r: Reading): void {
    const w = this.watch(r.device);
    const now = monotonicMs();
    if (r.humidity !== undefined) {
      w.lastHumidityAt = now;
      this.clearAlarm(r.device, 'humidity-stale');
      this.checkNodeLimits(r.device, w);
    }
    if (r.relay !== undefined) this.onRelayReport(r.device, w, r.relay, now);
    if (this.deps.config.gateway_rule) this.evaluate(r.device, r);
    if (r.device.state.fault) this.alarm(r.device, 'sensor-fault', 'the node reports a faulty sensor');
    else this.clearAlarm(r.device, 'sensor-fault');
  }

  /** The backup rule: at or over a limit, open now and latch. */
  private evaluate(device: Device, r: Reading): void {
    if (!this.deps.config.gateway_rule) return;
    const limits = this.limits(device);
    const trip = overLimit(limits, r);
    if (trip) this.trip(device, trip);
    else if (this.watch(device).latch === 'humidity' && limits.auto_rearm && r.humidity !== undefined && r.humidity < rearmLevel(limits))
      this.autoRearm(device);
  }

  private trip(device: Device, { kind, reason, value, limit }: Trip): void {
    const w = this.watch(device);
    if (device.state.gatewayLatch) return; // already latched; onRelayReport keeps it open
    // Open first (the worker has opened it too, unless it is down): nothing below waits on I/O.
    this.open(device, w);
    this.worker.latch(device.key, { kind, reason });
    this.setLatch(device, { kind, reason });
    this.trips++;
    this.deps.log.warn({ device: device.name, reason }, 'safety trip');
    this.deps.events.emit('log', {
      ts: Date.now(),
      device,
      type: 'trip',
      cause: reason,
      origin: 'gateway',
      detail: { quantity: kind, value, limit },
    });
  }

  private open(device: Device, w: Watch): void {
    w.lastOpenResent = monotonicMs();
    this.deps.control.forceOpen(device, 'gateway', (error) =>
      this.deps.log.warn({ device: device.name, err: error.message }, 'safety open not confirmed'),
    );
  }

  private autoRearm(device: Device): void {
    const was = device.state.gatewayLatch;
    this.setLatch(device, undefined);
    if (device.kind === 'can') this.deps.commands.fire(device.node!, { op: 'resetLatch' });
    this.deps.events.emit('log', { ts: Date.now(), device, type: 'rearm', cause: `automatic re-arm (${was})`, origin: 'gateway' });
  }

  /**
   * Sets or clears the gateway's latch. It is kept with the device (in its settings, which REST
   * cannot write), so a restarted gateway refuses closes from the start instead of from the first
   * humid report (the node's own latch survives in its flash).
   */
  private setLatch(device: Device, latch: Latch | undefined): void {
    this.watch(device).latch = latch?.kind;
    const state = { gatewayLatch: latch?.reason };
    const { latch: _old, ...rest } = device.settings;
    try {
      this.deps.registry.update(device, { state, settings: latch ? { ...rest, latch } : rest });
    } catch (error) {
      // The trip itself has happened (the open is on the bus); only its record waits for the database.
      this.deps.log.error({ device: device.name, err: (error as Error).message }, 'interlock latch not saved; it holds until a restart');
      this.deps.registry.update(device, { state });
    }
  }

  private restoreLatches(): void {
    for (const device of this.deps.registry.list()) {
      const latch = device.settings.latch as Latch | undefined;
      if (!latch?.kind || !latch.reason) continue;
      this.watch(device).latch = latch.kind;
      this.deps.registry.update(device, { state: { gatewayLatch: latch.reason } });
      this.deps.log.warn({ device: device.name, reason: latch.reason }, 'interlock latch restored from before the restart');
    }
  }

  private onRelaySent(device: Device, action: 'open' | 'close' | 'toggle'): void {
    const w = this.watch(device);
    if (action === 'open' || (action === 'toggle' && device.state.relay === true)) w.openExpectedSince ??= monotonicMs();
    else w.openExpectedSince = undefined;
  }

  private onRelayReport(device: Device, w: Watch, closed: boolean, now: number): void {
    if (!closed) {
      w.openExpectedSince = undefined;
      w.closedSince = undefined;
      this.clearAlarm(device, 'relay-stuck');
      return;
    }
    w.closedSince ??= now;
    // Latched but closed (node rebooted closed, interlock off on the node, a manual switch): open again.
    if (device.state.gatewayLatch && now - w.lastOpenResent >= RESEND_OPEN_MS) {
      w.openExpectedSince ??= now;
      this.open(device, w);
    }
  }

  /** Keeps the node's own limit equal to the gateway's, so both layers agree. */
  private checkNodeLimits(device: Device, w: Watch): void {
    if (device.kind !== 'can' || device.state.nodeHumidityLimit === undefined) return;
    const limits = this.limits(device);
    if (device.state.nodeHumidityLimit === limits.humidity_limit && device.state.nodeHysteresis === limits.humidity_hysteresis) return;
    // Never loosen a node's own stricter limit silently: only a person's per-device setting may.
    const chosen = (device.settings.safety as LimitsPatch | undefined)?.humidity_limit !== undefined;
    if (!chosen && limits.humidity_limit >= device.state.nodeHumidityLimit) return;
    const now = monotonicMs();
    if (now - w.lastLimitPush < LIMIT_PUSH_MS) return;
    w.lastLimitPush = now;
    this.deps.commands.fire(device.node!, { op: 'setHumidityLimit', limit: limits.humidity_limit, hysteresis: limits.humidity_hysteresis });
  }

  private pushPowerLimit(device: Device): void {
    if (device.kind !== 'can') return;
    const limits = this.limits(device);
    const chosen = (device.settings.safety as LimitsPatch | undefined)?.power_limit_w !== undefined;
    // 0 means "no limit": pushing it would erase a limit set in the node's own config.
    if (limits.power_limit_w === 0 && !chosen) return;
    this.deps.commands.fire(device.node!, { op: 'setPowerLimit', watts: limits.power_limit_w });
  }

  private async command(device: Device, command: Parameters<Commands['send']>[1]): Promise<void> {
    const reply = await this.deps.commands.send(device.node!, command);
    if (reply.result !== 'ok') throw new LimitError(`${device.name} refused ${command.op}: ${reply.result}`);
  }

  private tick(now = monotonicMs()): void {
    const c = this.deps.config;
    for (const device of this.deps.registry.list()) {
      const w = this.watches.get(device);
      if (!w) continue;
      if (
        w.openExpectedSince !== undefined &&
        device.state.relay === true &&
        now - w.openExpectedSince > c.relay_confirm_s * 1000 + relayReportDelayMs(device.kind, this.deps.wifiReportPeriodMs)
      ) {
        this.alarm(
          device,
          'relay-stuck',
          `the relay still reports closed ${Math.round((now - w.openExpectedSince) / 1000)} s after an open command`,
        );
      }
      const humiditySince = w.lastHumidityAt ?? w.closedSince;
      if (
        device.kind !== 'wifi' &&
        device.available &&
        device.state.relay === true &&
        humiditySince !== undefined &&
        now - humiditySince > c.humidity_stale_s * 1000
      ) {
        this.alarm(device, 'humidity-stale', `no humidity report for over ${c.humidity_stale_s} s while the socket is on`);
      }
    }
  }

  private alarm(device: Device, key: string, message: string): void {
    const w = this.watch(device);
    if (w.alarms.has(key)) return;
    w.alarms.set(key, message);
    this.deps.log.warn({ device: device.name, alarm: message }, 'safety alarm');
    this.deps.events.emit('log', { ts: Date.now(), device, type: 'alarm', cause: message, origin: 'gateway' });
    this.deps.registry.update(device, { state: { problems: [...w.alarms.values()] } });
  }

  private clearAlarm(device: Device, key: string): void {
    const w = this.watches.get(device);
    if (!w?.alarms.has(key)) return;
    const message = w.alarms.get(key);
    w.alarms.delete(key);
    this.deps.events.emit('log', { ts: Date.now(), device, type: 'alarm-cleared', cause: message, origin: 'gateway' });
    this.deps.registry.update(device, { state: { problems: [...w.alarms.values()] } });
  }
}
