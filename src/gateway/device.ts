/**
 * What the gateway knows about one device; every sink (MQTT, SQLite, REST, rules) reads this. The
 * registry is its only writer: everyone else sees a read-only Device and asks Registry.update(),
 * which publishes the change itself.
 */
import type { DeviceStatePayload } from '../contracts/device.js';
import { QUANTITIES, type DeviceKind, type Quantity } from '../contracts/vocabulary.js';

/** The model shown in Home Assistant and the dashboard, per kind. */
export const DEVICE_MODEL: Record<DeviceKind, string> = {
  can: 'canplug ESP32 smart socket',
  seed: 'ESP32 smart socket (2021, legacy frames)',
  wifi: 'ESP8266 AsyncSmartPlug',
};

/**
 * How late a device's report of its relay may come after a command, before the safety watchdog's
 * `relay_confirm_s` starts (docs/safety.md): a CAN node answers the command with its relay state; a
 * Wi-Fi plug shows it only in its next broadcast (`udp.report_period_ms`, the firmware's 5 s by
 * default), and Wi-Fi does not resend a lost broadcast, so two periods.
 */
export function relayReportDelayMs(kind: DeviceKind, wifiReportPeriodMs: number): number {
  return kind === 'wifi' ? 2 * wifiReportPeriodMs : 0;
}

export interface DeviceState {
  relay?: boolean;
  /** V */
  voltage?: number;
  /** A */
  current?: number;
  /** W */
  power?: number;
  /** kWh, monotonic across node reboots and counter resets */
  energy?: number;
  /** %RH */
  humidity?: number;
  /** degC */
  temperature?: number;
  /** The node's own humidity limit and hysteresis, as it reports them. */
  nodeHumidityLimit?: number;
  nodeHysteresis?: number;
  /** Latches reported by the node. */
  nodeHumidityLatched: boolean;
  nodePowerLatched: boolean;
  /** The gateway's own latch (safety backup rule), with its reason. */
  gatewayLatch?: string;
  /** A sensor reports a fault, or the node's heartbeat says fault. */
  fault: boolean;
  /** Watchdog alarms raised by the gateway (relay did not open, humidity stale, ...). */
  problems: string[];
  /** Set while two nodes answer to this device's node id (closes refused, frames not applied). */
  conflict?: string;
}

export interface DeviceInfo {
  model: string;
  firmware?: string;
  protocol?: number;
  nodeState?: string;
  /** s, from the node */
  uptime?: number;
  /** Wi-Fi plug: its "Daily Wats/Hour" thing, Wh since the plug booted from current x a fixed 240 V (an estimate, not a meter). */
  plugEnergyEstimateWh?: number;
  /** Wi-Fi plug: its own clock, as text. */
  plugClock?: string;
}

/** A device as the registry keeps and writes it. */
export interface DeviceRecord {
  /** Database id, stable across runs. */
  id: number;
  /** 'can:1', 'seed', 'wifi:1234567' */
  key: string;
  kind: DeviceKind;
  /** CAN node id for CAN devices. */
  node?: number;
  /** Friendly name used in topics and URLs. */
  name: string;
  available: boolean;
  /** ms since the epoch of the last frame or datagram. */
  lastSeen?: number;
  info: DeviceInfo;
  state: DeviceState;
  framesLost: number;
  settings: Record<string, unknown>;
}

type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** A device as everyone but the registry sees it: read-only (changes go through Registry.update). */
export type Device = DeepReadonly<DeviceRecord>;

/** A change another module asks the registry for; it applies it and publishes it once. */
export interface DeviceChange {
  /** ms since the epoch of the frame or datagram that brought the change (not a change to publish by itself). */
  lastSeen?: number;
  framesLost?: number;
  state?: Partial<DeviceState>;
  info?: Partial<DeviceInfo>;
  /** The device's whole settings object, stored before anything is applied. */
  settings?: Record<string, unknown>;
}

/** A measurement as it is stored and fed to the rules: only the quantities the frame carried. */
export interface Reading extends Partial<Record<Quantity, number>> {
  device: Device;
  ts: number;
  relay?: boolean;
}

export function interlocked(device: Device): boolean {
  return device.state.nodeHumidityLatched || device.state.nodePowerLatched || device.state.gatewayLatch !== undefined;
}

/** The device's state as published on MQTT (`canplug/<device>`) and returned by REST. */
export function statePayload(device: Device): DeviceStatePayload {
  const s = device.state;
  const { uptime, firmware, plugEnergyEstimateWh, plugClock } = device.info;
  const measured: Partial<Record<Quantity, number>> = {};
  for (const q of QUANTITIES) if (s[q] !== undefined) measured[q] = s[q];
  return {
    ...(s.relay !== undefined ? { state: s.relay ? 'ON' : 'OFF' } : {}),
    ...measured,
    interlock: interlocked(device),
    fault: s.fault,
    problem: s.problems.length > 0,
    ...(uptime !== undefined ? { uptime } : {}),
    ...(firmware !== undefined ? { firmware } : {}),
    ...(plugEnergyEstimateWh !== undefined ? { plug_energy_estimate_wh: plugEnergyEstimateWh } : {}),
    ...(plugClock !== undefined ? { plug_clock: plugClock } : {}),
    frames_lost: device.framesLost,
  };
}
