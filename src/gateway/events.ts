/**
 * The typed event bus between the layers. Every listener is guarded: one that throws (or whose
 * promise rejects) is logged with its owner and counted, and the listeners after it still run, so
 * a failing sink cannot skip storage, MQTT or the live stream for that event. Every listener an
 * owner adds is removed by its stop(). What must run before any listener (the safety check) is
 * not a listener: Registry.firstStage.
 */
import type { FirmwareStatus } from '../contracts/firmware.js';
import type { EventType, Origin } from '../contracts/vocabulary.js';
import type { Logger } from '../log.js';
import type { Device, Reading } from './device.js';

/** An entry for the event log (SQLite, REST and the live stream show it as contracts/event-entry.ts). */
export interface LogEvent {
  ts: number;
  device?: Device;
  type: EventType;
  cause?: string;
  /** Who did it. */
  origin?: Origin;
  detail?: Record<string, unknown>;
}

export interface GatewayEvents {
  'device.added': [Device];
  /** Any change of a device's state (a measurement, a heartbeat, a latch, an alarm, its settings). */
  'device.changed': [Device];
  'device.availability': [Device];
  'device.renamed': [Device, string];
  'device.removed': [Device];
  /** A relay command went out to the device (any origin); the safety watchdog checks it is obeyed. */
  'relay.sent': [Device, 'open' | 'close' | 'toggle', Origin];
  /** A measurement (after the safety check, Registry.firstStage): stored, fed to the rules. */
  reading: [Reading];
  log: [LogEvent];
  /** A firmware update started, moved on or ended (src/gateway/firmware-updater.ts). */
  'firmware.status': [FirmwareStatus];
}

export type EventName = keyof GatewayEvents;
/** A listener may be async: its rejection is handled like a throw. */
export type Listener<K extends EventName> = (...args: GatewayEvents[K]) => unknown;
export type Listeners = { [K in EventName]?: Listener<K> };

interface Entry {
  owner: string;
  listener: (...args: GatewayEvents[EventName]) => unknown;
}

export class EventBus {
  /** Listener calls that threw or rejected since start (metric canplug_event_listener_failures_total). */
  failures = 0;
  private readonly listeners = new Map<EventName, Entry[]>();
  /** Owner and event pairs whose failure was logged at error level already (later ones at debug). */
  private readonly reported = new Set<string>();

  constructor(private readonly log: Logger) {}

  /** Adds an owner's listeners and returns the one function that removes them all (for its stop()). */
  subscribe(owner: string, listeners: Listeners): () => void {
    const added: [EventName, Entry][] = [];
    for (const [event, listener] of Object.entries(listeners) as [EventName, Entry['listener']][]) {
      const entry = { owner, listener };
      // A new array, so an emit that is running keeps the list it started with.
      this.listeners.set(event, [...(this.listeners.get(event) ?? []), entry]);
      added.push([event, entry]);
    }
    return () => {
      for (const [event, entry] of added)
        this.listeners.set(
          event,
          (this.listeners.get(event) ?? []).filter((e) => e !== entry),
        );
    };
  }

  /** Calls every listener of the event in the order they subscribed; none can stop the others. */
  emit<K extends EventName>(event: K, ...args: GatewayEvents[K]): void {
    const entries = this.listeners.get(event);
    if (!entries) return;
    for (const { owner, listener } of entries) {
      try {
        const result = listener(...args);
        if (result instanceof Promise) result.catch((error: unknown) => this.failed(owner, event, error));
      } catch (error) {
        this.failed(owner, event, error);
      }
    }
  }

  listenerCount(event: EventName): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  private failed(owner: string, event: EventName, error: unknown): void {
    this.failures++;
    const err = error instanceof Error ? error : new Error(String(error));
    const key = `${owner}\0${event}`;
    const first = !this.reported.has(key);
    if (first && this.reported.size < 1000) this.reported.add(key);
    const fields = { owner, event, err: err.message, failures: this.failures };
    if (first) this.log.error({ ...fields, stack: err.stack }, 'event listener failed; the other listeners ran');
    else this.log.debug(fields, 'event listener failed again');
  }
}
