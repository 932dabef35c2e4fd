/**
 * Home Assistant MQTT discovery (docs/home-assistant.md): every device becomes one HA device with a
 * switch, sensors and binary sensors; the gateway itself is an HA device too, so `via_device` points
 * at something real. Topics and unique_ids use the device's stable key, never its renamable name, so a
 * rename keeps the entities and only moves their state topics. Configs are re-sent when HA announces
 * itself on `<prefix>/status`, on every broker (re)connect, and cleared with empty retained payloads
 * when a device is removed or an entity no longer exists.
 */
import { QUANTITIES, type DeviceKind } from '../contracts/vocabulary.js';
import { statePayload, type Device } from '../gateway/device.js';
import type { EventBus } from '../gateway/events.js';
import type { Registry } from '../gateway/registry.js';
import type { Logger } from '../log.js';
import type { MqttConnection } from './connection.js';

export type Component = 'switch' | 'sensor' | 'binary_sensor';

/** One HA entity: the key in the device's state JSON that feeds it, and its discovery fields. */
export interface EntitySpec {
  key: string;
  component: Component;
  /** Object id in the discovery topic and the unique_id suffix; never change it (HA keys entities on it). */
  object: string;
  config: Record<string, unknown>;
}

const sensor = (key: string, name: string, fields: Record<string, unknown>): EntitySpec => ({
  key,
  component: 'sensor',
  object: key,
  config: { name, value_template: `{{ value_json.${key} | default(None) }}`, ...fields },
});
const flag = (key: string, name: string, fields: Record<string, unknown>): EntitySpec => ({
  key,
  component: 'binary_sensor',
  object: key,
  config: { name, value_template: `{{ 'ON' if value_json.${key} else 'OFF' }}`, payload_on: 'ON', payload_off: 'OFF', ...fields },
});
const diagnostic = { entity_category: 'diagnostic' };

/** Every entity a device can have, in the order HA lists them. */
export const ENTITIES: readonly EntitySpec[] = [
  {
    key: 'state',
    component: 'switch',
    object: 'switch',
    // name null: the switch is the device's main feature and takes the device's name.
    config: {
      name: null,
      device_class: 'outlet',
      value_template: '{{ value_json.state | default(None) }}',
      payload_on: 'ON',
      payload_off: 'OFF',
      state_on: 'ON',
      state_off: 'OFF',
    },
  },
  sensor('voltage', 'Voltage', { device_class: 'voltage', unit_of_measurement: 'V', state_class: 'measurement', suggested_display_precision: 1 }),
  sensor('current', 'Current', { device_class: 'current', unit_of_measurement: 'A', state_class: 'measurement', suggested_display_precision: 2 }),
  sensor('power', 'Power', { device_class: 'power', unit_of_measurement: 'W', state_class: 'measurement', suggested_display_precision: 1 }),
  // total_increasing in kWh: what HA's Energy dashboard accepts; the gateway keeps it monotonic.
  sensor('energy', 'Energy', { device_class: 'energy', unit_of_measurement: 'kWh', state_class: 'total_increasing', suggested_display_precision: 3 }),
  sensor('humidity', 'Humidity', { device_class: 'humidity', unit_of_measurement: '%', state_class: 'measurement', suggested_display_precision: 1 }),
  sensor('temperature', 'Temperature', { device_class: 'temperature', unit_of_measurement: '°C', state_class: 'measurement', suggested_display_precision: 1 }),
  flag('interlock', 'Interlock', { device_class: 'safety' }),
  flag('fault', 'Fault', { device_class: 'problem' }),
  flag('problem', 'Safety alarm', { device_class: 'problem' }),
  sensor('uptime', 'Uptime', { device_class: 'duration', unit_of_measurement: 's', ...diagnostic }),
  sensor('firmware', 'Firmware', { icon: 'mdi:chip', ...diagnostic }),
  sensor('frames_lost', 'Frames lost', { state_class: 'total_increasing', icon: 'mdi:counter', ...diagnostic }),
];

/** The entities each kind of device always has; kinds not listed get one per key in their state JSON. */
const KIND_ENTITIES: Partial<Record<DeviceKind, readonly string[]>> = {
  can: ENTITIES.map((e) => e.key),
  // The 2021 socket reports no temperature, energy, latch or fault; the gateway's own rule still latches it.
  seed: ['state', 'voltage', 'current', 'power', 'humidity', 'interlock', 'problem'],
  wifi: ['state', 'power'],
};

const MANUFACTURER: Record<DeviceKind, string> = { can: 'canplug', seed: 'canplug', wifi: 'AsyncSmartPlug' };

/** The entities a device gets: its kind's list, plus a sensor for any quantity it actually reports. */
export function entitiesFor(device: Device): EntitySpec[] {
  const fixed = KIND_ENTITIES[device.kind] ?? Object.keys(statePayload(device));
  const reported = new Set<string>(QUANTITIES.filter((q) => device.state[q] !== undefined));
  if (device.state.relay !== undefined) reported.add('state');
  return ENTITIES.filter((e) => fixed.includes(e.key) || reported.has(e.key));
}

/** HA allows only these characters in a discovery topic's node and object ids. */
const topicId = (text: string) => text.replace(/[^A-Za-z0-9_-]/g, '_');

export interface DiscoveryDeps {
  connection: MqttConnection;
  events: EventBus;
  registry: Registry;
  baseTopic: string;
  prefix: string;
  version: string;
  log: Logger;
}

export class Discovery {
  /** What is on the broker now, topic -> payload, so unchanged configs are not re-sent. */
  private readonly published = new Map<string, string>();
  /** Discovery topics per device key, to clear them on removal. */
  private readonly topicsByDevice = new Map<string, Set<string>>();
  private readonly signatures = new Map<string, string>();
  /** What each device's entities were last built from (see `unchanged`). */
  private readonly shapes = new Map<string, { name: string; firmware?: string; reported: number }>();
  private readonly cleanups: (() => void)[] = [];

  constructor(private readonly deps: DiscoveryDeps) {}

  /** The id HA knows the gateway by; device blocks point at it with via_device. */
  get bridgeId(): string {
    return `canplug_${topicId(this.deps.baseTopic)}_bridge`;
  }

  nodeId(device: Device): string {
    return `canplug_${topicId(this.deps.baseTopic)}_${topicId(device.key)}`;
  }

  start(): void {
    const { connection, events, prefix } = this.deps;
    this.cleanups.push(
      // HA's birth message: it has just (re)started and forgotten non-retained state; a retained copy is
      // only the broker remembering, and everything is published on connect anyway.
      connection.subscribe(`${prefix}/status`, (_topic, payload, retained) => {
        if (retained || payload.toString().trim() !== 'online') return;
        this.deps.log.info('Home Assistant is online; re-sending discovery');
        this.publishAll(true);
      }),
      connection.subscribe(`${prefix}/+/+/+/config`, (topic, payload) => this.clearIfStale(topic, payload)),
      events.subscribe('mqtt-discovery', {
        'device.added': (d) => this.publishDevice(d),
        'device.changed': (d) => this.publishDevice(d),
        'device.renamed': (d) => this.publishDevice(d),
        'device.removed': (d) => this.clearDevice(d),
      }),
    );
    // The new broker after a restart has nothing retained: send everything again.
    const republish = () => this.publishAll(true);
    connection.on('connect', republish);
    this.cleanups.push(() => connection.off('connect', republish));
    this.publishAll(false);
  }

  stop(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  private publishAll(force: boolean): void {
    if (force) {
      this.signatures.clear();
      this.shapes.clear();
    }
    this.publishBridge(force);
    for (const device of this.deps.registry.list()) this.publishDevice(device, force);
  }

  private publishBridge(force: boolean): void {
    const { baseTopic, version } = this.deps;
    const device = {
      identifiers: [this.bridgeId],
      name: baseTopic === 'canplug' ? 'canplug bridge' : `canplug bridge (${baseTopic})`,
      manufacturer: 'canplug',
      model: 'canplug gateway',
      sw_version: version,
    };
    const common = { device, origin: this.origin() };
    this.publishConfig(
      'binary_sensor',
      this.bridgeId,
      'connection_state',
      {
        ...common,
        name: 'Connection state',
        unique_id: `${this.bridgeId}_connection_state`,
        state_topic: `${baseTopic}/bridge/state`,
        payload_on: 'online',
        payload_off: 'offline',
        device_class: 'connectivity',
        ...diagnostic,
      },
      force,
    );
    this.publishConfig(
      'sensor',
      this.bridgeId,
      'version',
      {
        ...common,
        name: 'Version',
        unique_id: `${this.bridgeId}_version`,
        state_topic: `${baseTopic}/bridge/info`,
        value_template: '{{ value_json.version }}',
        availability_topic: `${baseTopic}/bridge/state`,
        icon: 'mdi:information-outline',
        ...diagnostic,
      },
      force,
    );
  }

  /**
   * True when nothing the device's entities depend on (name, firmware, which quantities it reports)
   * changed since they were last built. Checked first: publishDevice runs on every state change,
   * that is on every power and environment frame, and building the entities is the costly part.
   */
  private unchanged(device: Device): boolean {
    if (!KIND_ENTITIES[device.kind]) return false;
    let reported = device.state.relay !== undefined ? 1 : 0;
    for (let i = 0; i < QUANTITIES.length; i++) if (device.state[QUANTITIES[i]] !== undefined) reported |= 2 << i;
    const last = this.shapes.get(device.key);
    if (last && last.name === device.name && last.firmware === device.info.firmware && last.reported === reported) return true;
    this.shapes.set(device.key, { name: device.name, firmware: device.info.firmware, reported });
    return false;
  }

  private publishDevice(device: Device, force = false): void {
    if (this.unchanged(device) && !force) return;
    const entities = entitiesFor(device);
    const signature = [device.name, device.info.firmware, ...entities.map((e) => e.key)].join('\0');
    if (!force && this.signatures.get(device.key) === signature) return;
    this.signatures.set(device.key, signature);

    const { baseTopic } = this.deps;
    const nodeId = this.nodeId(device);
    const stateTopic = `${baseTopic}/${device.name}`;
    const common = {
      state_topic: stateTopic,
      availability: [{ topic: `${baseTopic}/bridge/state` }, { topic: `${stateTopic}/availability` }],
      availability_mode: 'all',
      device: {
        identifiers: [nodeId],
        name: device.name,
        manufacturer: MANUFACTURER[device.kind],
        model: device.info.model,
        ...(device.info.firmware !== undefined ? { sw_version: device.info.firmware } : {}),
        via_device: this.bridgeId,
      },
      origin: this.origin(),
    };
    const previous = this.topicsByDevice.get(device.key) ?? new Set<string>();
    const current = new Set<string>();
    for (const entity of entities) {
      const config: Record<string, unknown> = { ...entity.config, unique_id: `${nodeId}_${entity.object}`, ...common };
      if (entity.component === 'switch') config.command_topic = `${stateTopic}/set`;
      current.add(this.publishConfig(entity.component, nodeId, entity.object, config, force));
    }
    for (const topic of previous) if (!current.has(topic)) this.clear(topic);
    this.topicsByDevice.set(device.key, current);
  }

  private clearDevice(device: Device): void {
    for (const topic of this.topicsByDevice.get(device.key) ?? []) this.clear(topic);
    this.topicsByDevice.delete(device.key);
    this.signatures.delete(device.key);
    this.shapes.delete(device.key);
    this.deps.log.info({ device: device.name }, 'Home Assistant discovery cleared');
  }

  private publishConfig(component: Component, nodeId: string, object: string, config: Record<string, unknown>, force: boolean): string {
    const topic = `${this.deps.prefix}/${component}/${nodeId}/${object}/config`;
    const payload = JSON.stringify(config);
    if (force || this.published.get(topic) !== payload) {
      this.published.set(topic, payload);
      this.deps.connection.publish(topic, payload, { retain: true, qos: 1 });
    }
    return topic;
  }

  private clear(topic: string): void {
    this.published.delete(topic);
    this.deps.connection.publish(topic, '', { retain: true, qos: 1 });
  }

  /**
   * A retained config of ours that no current entity owns (a device removed while the gateway was
   * stopped, an entity a newer version dropped) would leave a dead entity in HA: clear it.
   * "Ours" is exact: the config's device is the bridge or hangs off it.
   */
  private clearIfStale(topic: string, payload: Buffer): void {
    if (payload.length === 0 || this.published.has(topic)) return;
    if (!topic.split('/').at(-3)?.startsWith(`canplug_${topicId(this.deps.baseTopic)}_`)) return;
    let device: { identifiers?: unknown; via_device?: unknown } | undefined;
    try {
      device = (JSON.parse(payload.toString()) as { device?: typeof device }).device;
    } catch {
      return;
    }
    const ids = Array.isArray(device?.identifiers) ? device.identifiers : [device?.identifiers];
    if (device?.via_device !== this.bridgeId && !ids.includes(this.bridgeId)) return;
    this.deps.log.info({ topic }, 'clearing a stale Home Assistant discovery config');
    this.clear(topic);
  }

  private origin(): Record<string, string> {
    return { name: 'canplug', sw_version: this.deps.version };
  }
}
