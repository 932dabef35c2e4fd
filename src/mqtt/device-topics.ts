/**
 * Device topics in zigbee2mqtt's style: retained state JSON at `<base>/<device>` (published by the
 * StatePolicy), retained availability at `<base>/<device>/availability`, safety events (trips,
 * refusals, resets, re-arms) on `<base>/<device>/event`, and commands on `<base>/<device>/set`.
 * Bad commands are refused with a reason on `<base>/bridge/response/device/set`; they never reach the bus.
 * A renamed or removed device's old topics are retired (cleared after discovery has moved away).
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { RelayActionName } from '../can/codec.js';
import { statePayload, type Device } from '../gateway/device.js';
import type { DeviceControl } from '../gateway/control.js';
import type { EventBus, LogEvent } from '../gateway/events.js';
import type { Registry } from '../gateway/registry.js';
import type { Logger } from '../log.js';
import { LogLimiter } from '../log-limiter.js';
import type { MqttConnection } from './connection.js';
import { Retirement } from './retirement.js';
import type { StatePolicy } from './state-policy.js';

/** Event-log types published on `<base>/<device>/event` (Home Assistant's event entity). */
export const DEVICE_EVENT_TYPES = ['trip', 'refusal', 'reset', 'rearm'] as const;
/** Event-log details that become attributes of the HA event. */
const EVENT_ATTRIBUTES = ['quantity', 'value', 'limit', 'unit', 'request'];

export const SetPayload = Type.Object(
  { state: Type.String({ description: 'ON, OFF or TOGGLE (any case)' }) },
  { additionalProperties: false },
);
export type SetPayload = Static<typeof SetPayload>;

const ACTIONS: Record<string, RelayActionName> = { ON: 'close', OFF: 'open', TOGGLE: 'toggle' };

/** Parses a set payload: `{"state":"ON"}` or the plain words ON / OFF / TOGGLE. */
export function parseSetPayload(payload: Buffer): { action: RelayActionName } | { error: string } {
  const text = payload.toString('utf8').trim();
  const word = ACTIONS[text.toUpperCase()];
  if (word) return { action: word };
  if (!text.startsWith('{')) return { error: `payload must be ON, OFF, TOGGLE or {"state":"ON"}; got ${preview(text)}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { error: `payload is not valid JSON: ${preview(text)}` };
  }
  if (!Value.Check(SetPayload, json)) {
    const first = [...Value.Errors(SetPayload, json)][0];
    const where = first?.path ? first.path.slice(1) : 'payload';
    return { error: `${where || 'payload'}: ${first?.message ?? 'invalid'}; expected {"state":"ON"|"OFF"|"TOGGLE"}` };
  }
  const action = ACTIONS[json.state.toUpperCase()];
  return action ? { action } : { error: `state must be ON, OFF or TOGGLE; got ${preview(json.state)}` };
}

function preview(text: string): string {
  return JSON.stringify(clip(text));
}

function clip(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}...` : clean;
}

export const RETAINED_SET =
  'retained set messages are ignored (they would switch the socket again at every reconnect); publish without the retain flag, and clear the retained one with an empty retained message';

export interface DeviceTopicsDeps {
  connection: MqttConnection;
  events: EventBus;
  registry: Registry;
  control: DeviceControl;
  policy: StatePolicy;
  baseTopic: string;
  log: Logger;
}

export class DeviceTopics {
  private readonly cleanups: (() => void)[] = [];
  private readonly logLimiter = new LogLimiter();
  private retirement: Retirement | undefined;

  constructor(private readonly deps: DeviceTopicsDeps) {}

  start(): void {
    const { connection, events, baseTopic } = this.deps;
    const retirement = new Retirement(connection);
    this.retirement = retirement;
    this.cleanups.push(
      connection.subscribe(`${baseTopic}/+/set`, (topic, payload, retained) => this.onSet(topic, payload, retained)),
      events.subscribe('mqtt-devices', {
        'device.added': (d) => this.publishDevice(d),
        'device.changed': (d) => this.publishState(d, false),
        'device.availability': (d) => this.publishAvailability(d),
        'device.renamed': (d, old) => {
          this.publishDevice(d);
          this.retire(old);
        },
        'device.removed': (d) => {
          this.deps.policy.forget(d.key);
          this.retire(d.name);
        },
        log: (e) => this.publishEvent(e),
      }),
    );
    const republish = () => {
      for (const d of this.deps.registry.list()) this.publishDevice(d);
    };
    connection.on('connect', republish);
    connection.on('resync', republish);
    // Stopping: the configs moved long ago, and the old topics must not stay retained for good.
    this.cleanups.push(
      () => connection.off('connect', republish),
      () => connection.off('resync', republish),
      () => retirement.flush(),
    );
    republish();
  }

  /** Stops following the devices and publishes every one offline: the gateway will not update them any more. */
  stop(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    for (const d of this.deps.registry.list()) {
      this.deps.connection.publish(`${this.deps.baseTopic}/${d.name}/availability`, 'offline', { retain: true, qos: 1 });
    }
  }

  /** Availability and the whole state, whatever the policy says (a new device, a rename, a reconnect). */
  private publishDevice(device: Device): void {
    for (const topic of this.retained(device.name)) this.retirement?.keep(topic);
    this.publishAvailability(device);
    this.publishState(device, true);
  }

  private publishState(device: Device, always: boolean): void {
    // Not connected, the publish is dropped: the policy must not count it as sent (the connect
    // republishes every device whole).
    if (!this.deps.connection.connected) return;
    const payload = statePayload(device);
    if (always) this.deps.policy.published(device.key, payload);
    else if (!this.deps.policy.admit(device.key, payload)) return;
    this.deps.connection.publish(`${this.deps.baseTopic}/${device.name}`, JSON.stringify(payload), { retain: true });
  }

  private publishAvailability(device: Device): void {
    this.deps.connection.publish(`${this.deps.baseTopic}/${device.name}/availability`, device.available ? 'online' : 'offline', {
      retain: true,
      qos: 1,
    });
  }

  /** Not retained: an event is news once (HA ignores retained events), and a reconnect must not repeat it. */
  private publishEvent(e: LogEvent): void {
    if (!e.device || !(DEVICE_EVENT_TYPES as readonly string[]).includes(e.type)) return;
    const payload: Record<string, unknown> = { event_type: e.type, reason: e.cause ?? e.type, origin: e.origin ?? 'gateway' };
    for (const key of EVENT_ATTRIBUTES) if (e.detail?.[key] !== undefined) payload[key] = e.detail[key];
    this.deps.connection.publish(`${this.deps.baseTopic}/${e.device.name}/event`, JSON.stringify(payload), { qos: 1 });
  }

  /** The retained topics of a device name. */
  private retained(name: string): string[] {
    return [`${this.deps.baseTopic}/${name}`, `${this.deps.baseTopic}/${name}/availability`];
  }

  /** A name no longer used: its retained topics go once discovery has moved away from them (Retirement). */
  private retire(name: string): void {
    this.retirement?.clearLater(this.retained(name));
  }

  private onSet(topic: string, payload: Buffer, retained: boolean): void {
    const name = topic.slice(this.deps.baseTopic.length + 1, -'/set'.length);
    const device = this.deps.registry.find(name);
    if (!device || name === 'bridge') return this.respondError(name, `no device named "${clip(name)}"`, 'unknown device');
    // A retained command is the broker remembering, not someone asking: applied, it would switch the
    // socket again at every (re)connect, after every restart.
    if (retained) return this.respondError(name, RETAINED_SET, 'retained');
    const parsed = parseSetPayload(payload);
    if ('error' in parsed) return this.respondError(name, parsed.error, 'bad payload');
    this.deps.control
      .setRelay(device, parsed.action, 'mqtt')
      .catch((error: Error) => this.respondError(name, error.message, `refused ${device.key}`));
  }

  /** `reason` is what the log is limited by: a category, never the payload or a name from the topic. */
  private respondError(device: string, error: string, reason: string): void {
    const suppressed = this.logLimiter.take(reason);
    if (suppressed !== undefined)
      this.deps.log.warn({ device: clip(device), error, ...(suppressed ? { suppressed } : {}) }, 'MQTT set refused');
    this.deps.connection.publish(
      `${this.deps.baseTopic}/bridge/response/device/set`,
      JSON.stringify({ status: 'error', error, data: { device } }),
    );
  }
}
