/**
 * Home Assistant MQTT discovery (docs/home-assistant.md): every device becomes one HA device with the
 * entities of ha-entities.ts (switch, sensors, binary sensors, the safety event), linked to its
 * dashboard page; the gateway itself is an HA device too, so `via_device` points at something real.
 * Topics and unique_ids use the gateway id and the device's stable key, never its renamable name or
 * the base topic, so a rename keeps the entities and only moves their state topics. Configs are re-sent when HA announces
 * itself on `<prefix>/status`, on every broker (re)connect, and cleared with empty retained payloads
 * when a device is removed or an entity no longer exists.
 */
import { QUANTITIES } from '../contracts/vocabulary.js';
import type { Device } from '../gateway/device.js';
import type { EventBus } from '../gateway/events.js';
import type { Registry } from '../gateway/registry.js';
import type { Logger } from '../log.js';
import { LogLimiter } from '../log-limiter.js';
import { monotonicMs } from '../gateway/clock.js';
import type { MqttConnection } from './connection.js';
import { deviceBlock, entitiesFor, KIND_ENTITIES, type Component } from './ha-entities.js';
import { topicId } from './namespace.js';

const diagnostic = { entity_category: 'diagnostic' };
/** Least time between two re-sends of every config for Home Assistant's birth message. */
const RESEND_MIN_MS = 10_000;

export interface DiscoveryDeps {
  connection: MqttConnection;
  events: EventBus;
  registry: Registry;
  baseTopic: string;
  prefix: string;
  /** The prefix the gateway published under last time, when it was another one: its configs are cleared. */
  previousPrefix?: string;
  /** In every unique_id and node id (namespace.ts). */
  gatewayId: string;
  /** Where browsers reach the dashboard; each device links to its page there. */
  dashboardUrl: string;
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
  private readonly logLimiter = new LogLimiter();
  private previousPrefix: string | undefined;
  /** Home Assistant births answered by a re-send already under way (health). */
  resendsCoalesced = 0;
  private lastResend = -Infinity;
  private resendTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: DiscoveryDeps) {
    this.previousPrefix = deps.previousPrefix;
  }

  /** The id HA knows the gateway by; device blocks point at it with via_device. */
  get bridgeId(): string {
    return `canplug_${this.deps.gatewayId}_bridge`;
  }

  /** The node id of a device's discovery topics, from its stable key. */
  nodeId(key: string): string {
    return `canplug_${this.deps.gatewayId}_${topicId(key)}`;
  }

  start(): void {
    const { connection, events, prefix } = this.deps;
    this.cleanups.push(
      // HA's birth message: it has just (re)started and forgotten non-retained state; a retained copy is
      // only the broker remembering, and everything is published on connect anyway.
      connection.subscribe(`${prefix}/status`, (_topic, payload, retained) => {
        if (retained || payload.toString().trim() !== 'online') return;
        this.homeAssistantOnline();
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
    clearTimeout(this.resendTimer);
  }

  /**
   * Re-sends every config, at most once per RESEND_MIN_MS: anyone who may publish can send "online"
   * at any rate, and each would otherwise cost a full re-send (hundreds of QoS 1 messages). Births
   * inside the interval are answered by one re-send at its end, and counted.
   */
  private homeAssistantOnline(): void {
    const wait = this.lastResend + RESEND_MIN_MS - monotonicMs();
    if (wait > 0) {
      this.resendsCoalesced++;
      this.resendTimer ??= setTimeout(() => {
        this.resendTimer = undefined;
        this.homeAssistantOnline();
      }, wait);
      return;
    }
    this.lastResend = monotonicMs();
    this.deps.log.info('Home Assistant is online; re-sending discovery');
    this.publishAll(true);
  }

  private publishAll(force: boolean): void {
    if (force) {
      this.signatures.clear();
      this.shapes.clear();
    }
    this.publishBridge(force);
    for (const device of this.deps.registry.list()) this.publishDevice(device, force);
    this.clearPreviousPrefix();
  }

  /** The configs published under the old prefix are the ones just published under the new one. */
  private clearPreviousPrefix(): void {
    const previous = this.previousPrefix;
    if (previous === undefined || previous === this.deps.prefix || !this.deps.connection.connected) return;
    this.previousPrefix = undefined;
    const { prefix, connection, log } = this.deps;
    for (const topic of this.published.keys()) connection.publish(`${previous}${topic.slice(prefix.length)}`, '', { retain: true, qos: 1 });
    log.info({ previous, prefix }, 'discovery prefix changed: the configs under the old one were cleared');
  }

  private publishBridge(force: boolean): void {
    const { baseTopic, version, dashboardUrl } = this.deps;
    const device = {
      identifiers: [this.bridgeId],
      name: baseTopic === 'canplug' ? 'canplug bridge' : `canplug bridge (${baseTopic})`,
      manufacturer: 'canplug',
      model: 'canplug gateway',
      sw_version: version,
      configuration_url: `${dashboardUrl}/`,
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

    const { baseTopic, dashboardUrl } = this.deps;
    const nodeId = this.nodeId(device.key);
    const stateTopic = `${baseTopic}/${device.name}`;
    const topics = { state: stateTopic, command: `${stateTopic}/set`, event: `${stateTopic}/event` };
    const common = {
      state_topic: stateTopic,
      availability: [{ topic: `${baseTopic}/bridge/state` }, { topic: `${stateTopic}/availability` }],
      availability_mode: 'all',
      device: deviceBlock(device, { nodeId, bridgeId: this.bridgeId }, dashboardUrl),
      origin: this.origin(),
    };
    const previous = this.topicsByDevice.get(device.key) ?? new Set<string>();
    const current = new Set<string>();
    for (const entity of entities) {
      const config = { unique_id: `${nodeId}_${entity.object}`, ...common, ...entity.config(topics) };
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
    if (!topic.split('/').at(-3)?.startsWith(`canplug_${this.deps.gatewayId}_`)) return;
    let device: { identifiers?: unknown; via_device?: unknown } | undefined;
    try {
      device = (JSON.parse(payload.toString()) as { device?: typeof device }).device;
    } catch {
      return;
    }
    const ids = Array.isArray(device?.identifiers) ? device.identifiers : [device?.identifiers];
    if (device?.via_device !== this.bridgeId && !ids.includes(this.bridgeId)) return;
    // Anyone who may publish can make such configs at any rate: the log is limited, the clearing not.
    const suppressed = this.logLimiter.take('stale config');
    if (suppressed !== undefined)
      this.deps.log.info({ topic, ...(suppressed ? { suppressed } : {}) }, 'clearing a stale Home Assistant discovery config');
    this.clear(topic);
  }

  private origin(): Record<string, string> {
    return { name: 'canplug', sw_version: this.deps.version };
  }
}
