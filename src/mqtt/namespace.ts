/**
 * The gateway's MQTT namespace (docs/home-assistant.md, "Several gateways on one broker").
 * - The gateway id is in every Home Assistant unique_id and discovery node id. It is random, made at
 *   the first start and kept in the database, so two gateways never share one, and a new base topic
 *   keeps the entities (their configs move, as in a rename). A database from before gateway ids keeps
 *   the base topic as its id: the unique_ids it has been publishing stay the same.
 * - The base topic and discovery prefix last published under are kept too: after a restart with new
 *   ones the old retained topics are cleared once the new configs are out (the old prefix's configs by
 *   Discovery, which knows them).
 * - Two gateways on one base topic would overwrite each other's topics: before going online the
 *   gateway asks whether another one answers on its base topic (live-gateway.ts), and refuses if so.
 */
import { randomBytes } from 'node:crypto';
import type { Registry } from '../gateway/registry.js';
import type { Logger } from '../log.js';
import type { MqttConnection } from './connection.js';
import { until } from './live-gateway.js';
import { Retirement } from './retirement.js';

/** HA allows only these characters in a discovery topic's node and object ids. */
export const topicId = (text: string) => text.replace(/[^A-Za-z0-9_-]/g, '_');

export interface MqttNamespace {
  /** In every Home Assistant unique_id and discovery node id; never changes once made. */
  gatewayId: string;
  /** What the gateway last published under ('' before it ever did). */
  baseTopic: string;
  discoveryPrefix: string;
}

/** Where the namespace is kept between runs (the database). */
export interface NamespaceStore {
  get(): MqttNamespace | undefined;
  save(namespace: MqttNamespace): void;
}

/**
 * The namespace as stored; on the first start made and stored at once (before anything is published
 * with its id). A database that already knows devices is from before gateway ids: its base topic stays
 * its id, so the unique_ids it has been publishing stay the same.
 */
export function loadNamespace(store: NamespaceStore, knowsDevices: boolean, baseTopic: string, discoveryPrefix: string): MqttNamespace {
  let namespace = store.get();
  if (!namespace) {
    namespace = knowsDevices
      ? { gatewayId: topicId(baseTopic), baseTopic, discoveryPrefix }
      : { gatewayId: randomBytes(3).toString('hex'), baseTopic: '', discoveryPrefix: '' };
    store.save(namespace);
  }
  return namespace;
}

export interface NamespaceDeps {
  store: NamespaceStore;
  connection: MqttConnection;
  registry: Registry;
  baseTopic: string;
  discoveryPrefix: string;
  log: Logger;
}

export class Namespace {
  private cleanup: () => void = () => {};
  private retirement: Retirement | undefined;

  constructor(private readonly deps: NamespaceDeps) {}

  /** Once online (now or at the first connect): retires an old base topic and stores the namespace as published. */
  start(): void {
    const { connection } = this.deps;
    this.retirement = new Retirement(connection);
    if (connection.connected) return this.published();
    const once = () => {
      this.cleanup();
      this.published();
    };
    connection.on('connect', once);
    this.cleanup = () => connection.off('connect', once);
  }

  stop(): void {
    this.cleanup();
    this.retirement?.flush();
  }

  /**
   * Discovery has published under the current namespace. Another base topic last time: the configs now
   * point at the new topics (same gateway id, so the same unique_ids), and the old retained topics go,
   * unless another gateway publishes there now (its bridge info names another gateway id).
   */
  private published(): void {
    const { store, baseTopic, discoveryPrefix } = this.deps;
    const stored = store.get()!;
    if (stored.baseTopic !== '' && stored.baseTopic !== baseTopic) void this.retireBase(stored.baseTopic, stored.gatewayId);
    store.save({ gatewayId: stored.gatewayId, baseTopic, discoveryPrefix });
  }

  private async retireBase(old: string, gatewayId: string): Promise<void> {
    const { connection, registry, baseTopic, log } = this.deps;
    const owner = await retainedGatewayId(connection, old);
    if (owner !== undefined && owner !== gatewayId) {
      log.warn({ old, owner }, `base topic changed, but another gateway (id ${owner}) publishes on ${old} now: its topics are left alone`);
      return;
    }
    log.info({ from: old, to: baseTopic }, 'base topic changed: the old retained topics are cleared once the discovery configs moved');
    this.retirement?.clearLater(
      leftoverTopics(
        old,
        registry.list().map((d) => d.name),
      ),
    );
  }
}

/** How long a retained bridge info is waited for (there is none when no gateway ever published there). */
const RETAINED_MS = 1500;

/** The gateway id in a base topic's retained bridge info, or undefined when there is none. */
async function retainedGatewayId(connection: MqttConnection, base: string): Promise<string | undefined> {
  let owner: string | undefined;
  let seen = false;
  const unsubscribe = connection.subscribe(`${base}/bridge/info`, (_topic, payload) => {
    seen = true;
    try {
      const info: unknown = JSON.parse(payload.toString());
      if (typeof info === 'object' && info !== null && 'gateway_id' in info && typeof info.gateway_id === 'string') owner = info.gateway_id;
      else owner = '(unknown)';
    } catch {
      owner = '(unknown)';
    }
  });
  await until(() => seen, RETAINED_MS);
  unsubscribe();
  return owner;
}

/** The retained topics a base topic no longer in use still holds for these device names. */
export function leftoverTopics(oldBase: string, names: string[]): string[] {
  return [
    // The device's state, its availability and its firmware update entity's state (firmware-entity.ts).
    ...names.flatMap((name) => [`${oldBase}/${name}`, `${oldBase}/${name}/availability`, `${oldBase}/${name}/firmware`]),
    `${oldBase}/bridge/devices`,
    `${oldBase}/bridge/health`,
    `${oldBase}/bridge/info`,
    `${oldBase}/bridge/state`,
  ];
}
