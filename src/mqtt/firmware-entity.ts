/**
 * Home Assistant's MQTT `update` entity for every CAN socket (docs/home-assistant.md): the installed
 * version, the version of the gateway's bundle, an install button and the progress of an update.
 * A component of its own beside discovery.ts, on the same HA device (same identifiers):
 *   state    <base>/<device>/firmware           retained JSON, as HA's update entity reads it
 *   command  <base>/<device>/firmware/install   payload "install": update this socket
 */
import type { Device } from '../gateway/device.js';
import type { EventBus } from '../gateway/events.js';
import type { FirmwareStatus } from '../contracts/firmware.js';
import type { FirmwareUpdater } from '../gateway/firmware-updater.js';
import type { Registry } from '../gateway/registry.js';
import type { Logger } from '../log.js';
import type { MqttConnection } from './connection.js';

export const INSTALL_PAYLOAD = 'install';

export interface FirmwareEntityDeps {
  connection: MqttConnection;
  events: EventBus;
  registry: Registry;
  updater: FirmwareUpdater;
  baseTopic: string;
  prefix: string;
  /** The discovery prefix of the last run when it was another: the update configs there are cleared once published here. */
  previousPrefix?: string;
  /** The HA device identifier discovery.ts gives this device, so the entity joins that device. */
  deviceIdentifier: (device: Device) => string;
  version: string;
  log: Logger;
}

const ACTIVE = new Set(['queued', 'checking', 'transferring', 'installing', 'confirming']);

export class FirmwareEntity {
  /** What is on the broker, topic -> payload. */
  private readonly published = new Map<string, string>();
  /** The config topic and state topic each device has now, to move or clear them. */
  private readonly topics = new Map<string, { config: string; state: string }>();
  /** Name and version each device's entity was last built from: state changes come with every report. */
  private readonly shapes = new Map<string, string>();
  private readonly cleanups: (() => void)[] = [];
  private previousPrefix: string | undefined;

  constructor(private readonly deps: FirmwareEntityDeps) {
    this.previousPrefix = deps.previousPrefix;
  }

  start(): void {
    const { connection, events, baseTopic, prefix } = this.deps;
    this.cleanups.push(
      connection.subscribe(`${baseTopic}/+/firmware/install`, (topic, payload) =>
        this.install(topic.split('/').at(-3)!, payload.toString()),
      ),
      connection.subscribe(`${prefix}/status`, (_topic, payload, retained) => {
        if (!retained && payload.toString().trim() === 'online') this.publishAll(true);
      }),
      events.subscribe('mqtt-firmware-entity', {
        'device.added': (d) => this.publish(d),
        'device.changed': (d) => {
          if (this.shapes.get(d.key) !== `${d.name}\0${d.info.firmware}`) this.publish(d);
        },
        'device.renamed': (d) => this.publish(d),
        'device.removed': (d) => this.clear(d),
        'firmware.status': (s) => {
          const device = this.deps.registry.find(s.key);
          if (device) this.publish(device);
        },
      }),
    );
    const republish = () => this.publishAll(true);
    connection.on('connect', republish);
    this.cleanups.push(() => connection.off('connect', republish));
    this.publishAll(false);
  }

  stop(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  private publishAll(force: boolean): void {
    if (force) this.published.clear();
    for (const device of this.deps.registry.list()) this.publish(device);
    this.clearPreviousPrefix();
  }

  /** As discovery.ts does for its configs: the old prefix's update configs are the ones just published under the new one. */
  private clearPreviousPrefix(): void {
    const previous = this.previousPrefix;
    const { prefix, connection } = this.deps;
    if (previous === undefined || previous === prefix || !connection.connected) return;
    this.previousPrefix = undefined;
    for (const { config } of this.topics.values())
      connection.publish(`${previous}${config.slice(prefix.length)}`, '', { retain: true, qos: 1 });
  }

  private install(name: string, payload: string): void {
    const device = this.deps.registry.find(name);
    if (!device || payload.trim() !== INSTALL_PAYLOAD) return;
    try {
      this.deps.updater.update(device, 'mqtt');
    } catch (error) {
      // Shown in HA as the entity's release summary (the update entity has no other text field).
      this.deps.log.warn({ device: device.name, err: (error as Error).message }, 'firmware update from Home Assistant refused');
      this.publish(device, (error as Error).message);
    }
  }

  private publish(device: Device, refusal?: string): void {
    if (device.kind !== 'can') return;
    this.shapes.set(device.key, `${device.name}\0${device.info.firmware}`);
    const { baseTopic, prefix } = this.deps;
    const id = this.deps.deviceIdentifier(device);
    const stateTopic = `${baseTopic}/${device.name}/firmware`;
    // A node id of its own in the topic (HA reads nothing from it): the device's node id holds
    // discovery.ts's entities, which all share the device's state topic.
    const configTopic = `${prefix}/update/${id}_update/firmware/config`;
    const before = this.topics.get(device.key);
    if (before && before.state !== stateTopic) this.send(before.state, '');
    this.topics.set(device.key, { config: configTopic, state: stateTopic });
    this.send(
      configTopic,
      JSON.stringify({
        name: 'Firmware',
        unique_id: `${id}_firmware_update`, // `${id}_firmware` is the firmware version sensor of discovery.ts
        device_class: 'firmware',
        entity_category: 'config',
        state_topic: stateTopic,
        command_topic: `${stateTopic}/install`,
        payload_install: INSTALL_PAYLOAD,
        availability: [{ topic: `${baseTopic}/bridge/state` }, { topic: `${baseTopic}/${device.name}/availability` }],
        availability_mode: 'all',
        // No via_device: discovery.ts would take a config of the bridge's devices it did not publish for stale.
        device: { identifiers: [id], name: device.name },
        origin: { name: 'canplug', sw_version: this.deps.version },
      }),
    );
    this.send(stateTopic, JSON.stringify(this.state(device, this.deps.updater.status(device), refusal)));
  }

  private state(device: Device, status: FirmwareStatus | undefined, refusal?: string): Record<string, unknown> {
    const installed = device.info.firmware ?? null;
    const active = status !== undefined && ACTIVE.has(status.stage);
    let summary: string | null = null;
    if (refusal) summary = `Update refused: ${refusal}`;
    else if (status?.stage === 'failed') summary = `Last update to ${status.to} failed: ${status.error}`;
    else if (status?.stage === 'installed') summary = `Updated from ${status.from ?? '?'} to ${status.to} over the CAN bus`;
    return {
      installed_version: installed,
      latest_version: this.deps.updater.latestVersion() ?? installed,
      title: 'canplug socket firmware',
      release_summary: summary,
      in_progress: active,
      update_percentage: active ? status!.progress : null,
    };
  }

  private clear(device: Device): void {
    const topics = this.topics.get(device.key);
    if (!topics) return;
    this.send(topics.config, '');
    this.send(topics.state, '');
    this.topics.delete(device.key);
    this.shapes.delete(device.key);
  }

  private send(topic: string, payload: string): void {
    if (this.published.get(topic) === payload) return;
    if (payload === '') this.published.delete(topic);
    else this.published.set(topic, payload);
    this.deps.connection.publish(topic, payload, { retain: true, qos: 1 });
  }
}
