/** The typed event bus between the layers. Every listener an owner adds is removed by its stop(). */
import { EventEmitter } from 'node:events';
import type { Device, Reading } from './device.js';
import type { FirmwareStatus } from './firmware-session.js';

/** An entry for the event log (SQLite, REST, live stream). */
export interface LogEvent {
  ts: number;
  device?: Device;
  /** trip, refusal, reset, limit, availability, command, alarm, rule, ... */
  type: string;
  cause?: string;
  /** Who did it: node, gateway, rest, mqtt, rule:<id>, cli. */
  origin?: string;
  detail?: Record<string, unknown>;
}

export interface GatewayEvents {
  'device.added': [Device];
  /** Any change of a device's state; `reading` is set when it came with a measurement. */
  'device.changed': [Device];
  'device.availability': [Device];
  'device.renamed': [Device, string];
  'device.removed': [Device];
  /** A relay command went out to the device (any origin); the safety watchdog checks it is obeyed. */
  'relay.sent': [Device, 'open' | 'close' | 'toggle', string];
  /** A measurement (after the safety check, Registry.firstStage): stored, fed to the rules. */
  reading: [Reading];
  'log': [LogEvent];
  /** A firmware update started, moved on or ended (src/gateway/firmware-updater.ts). */
  'firmware.status': [FirmwareStatus];
}

export class EventBus extends EventEmitter<GatewayEvents> {
  constructor() {
    super({ captureRejections: false });
    this.setMaxListeners(50);
  }

  /** Adds listeners and returns one function that removes them all (for an owner's stop()). */
  subscribe(listeners: { [K in keyof GatewayEvents]?: (...args: GatewayEvents[K]) => void }): () => void {
    const added: [keyof GatewayEvents, (...args: never[]) => void][] = [];
    for (const [event, listener] of Object.entries(listeners) as [keyof GatewayEvents, (...args: never[]) => void][]) {
      this.on(event, listener as never);
      added.push([event, listener]);
    }
    return () => {
      for (const [event, listener] of added) this.off(event, listener as never);
    };
  }
}
