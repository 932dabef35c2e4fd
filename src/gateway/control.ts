/**
 * Switching devices: the one path every interface (REST, MQTT, rules, CLI) goes through,
 * so the safety guards are checked in one place and every refusal is recorded with its origin.
 */
import type { RelayActionName } from '../can/codec.js';
import type { DeviceKind, Origin } from '../contracts/vocabulary.js';
import type { Device } from './device.js';
import { RefusedError, UnavailableError } from './errors.js';
import type { EventBus } from './events.js';
import type { Registry } from './registry.js';
import { LogLimiter } from '../log-limiter.js';

export interface RelayDriver {
  /**
   * Switches the device; resolves with the relay state the device confirmed. Calls `sent` once the
   * command has gone out to the device, and never for one refused before that (offline, bus down).
   */
  setRelay(device: Device, action: RelayActionName, sent: () => void): Promise<boolean>;
}

/** Returns why a close must be refused, or undefined (the safety guard asks its worker thread). */
export type CloseGuard = (device: Device) => string | undefined | Promise<string | undefined>;

export interface RelayResult {
  device: Device;
  relay: boolean;
}

export class DeviceControl {
  private readonly drivers = new Map<DeviceKind, RelayDriver>();
  private readonly guards = new Set<CloseGuard>();
  private readonly refusals = new LogLimiter(60_000, 1000);

  constructor(
    private readonly registry: Registry,
    private readonly events: EventBus,
  ) {}

  registerDriver(kind: DeviceKind, driver: RelayDriver): void {
    this.drivers.set(kind, driver);
  }

  /** Adds a guard consulted before any close; returns the function that removes it. */
  addGuard(guard: CloseGuard): () => void {
    this.guards.add(guard);
    return () => this.guards.delete(guard);
  }

  /** Why closing this device would be refused right now, or undefined. */
  async closeRefusal(device: Device): Promise<string | undefined> {
    for (const guard of this.guards) {
      const reason = await guard(device);
      if (reason) return reason;
    }
    return undefined;
  }

  async setRelay(device: Device, action: RelayActionName, origin: Origin): Promise<RelayResult> {
    const driver = this.drivers.get(device.kind);
    if (!driver) throw new UnavailableError(`${device.name} has no switch that canplug can drive`);
    const closing = action === 'close' || (action === 'toggle' && device.state.relay !== true);
    if (closing) {
      const reason = await this.closeRefusal(device);
      if (reason) {
        this.refused(device, reason, origin);
        throw new RefusedError(reason);
      }
    }
    try {
      const relay = await driver.setRelay(device, action, () => this.events.emit('relay.sent', device, action, origin));
      this.confirmed(device, relay);
      this.events.emit('log', { ts: Date.now(), device, type: 'relay', cause: relay ? 'on' : 'off', origin });
      return { device, relay };
    } catch (error) {
      if (error instanceof RefusedError) this.refused(device, error.message, origin);
      throw error;
    }
  }

  /**
   * Opens a relay without guards and without waiting for the answer: the safety path.
   * The command is on the bus when this returns (for CAN); a failure is only logged.
   */
  forceOpen(device: Device, origin: Origin, onError: (error: Error) => void): void {
    const driver = this.drivers.get(device.kind);
    if (!driver) return;
    driver
      .setRelay(device, 'open', () => this.events.emit('relay.sent', device, 'open', origin))
      .then((relay) => this.confirmed(device, relay), onError);
  }

  /** The device confirmed its relay; a report that confirmed it was already announced (one MQTT state, not two: the registry publishes changes only). */
  private confirmed(device: Device, relay: boolean): void {
    this.registry.update(device, { state: { relay } });
  }

  /**
   * Recorded in the event log: the same refusal (device, origin, reason) at most once a minute, with
   * how many were left out since, so a publisher flooding "ON" at a latched socket does not fill
   * the database.
   */
  private refused(device: Device, reason: string, origin: Origin): void {
    const repeated = this.refusals.take(`${device.key}\0${origin}\0${reason}`);
    if (repeated === undefined) return;
    this.events.emit('log', {
      ts: Date.now(),
      device,
      type: 'refusal',
      cause: reason,
      origin,
      detail: { request: 'close relay', ...(repeated ? { repeated } : {}) },
    });
  }
}
