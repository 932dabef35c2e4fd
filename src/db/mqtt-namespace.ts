/** The gateway's MQTT namespace between runs (migrations/004-mqtt-namespace.sql): one row. */
import type { Db } from './database.js';

/** Field by field the `MqttNamespace` of src/mqtt/namespace.ts, which keeps it through this store. */
export interface StoredNamespace {
  gatewayId: string;
  baseTopic: string;
  discoveryPrefix: string;
}

interface Row {
  gateway_id: string;
  base_topic: string;
  discovery_prefix: string;
}

export class MqttNamespaceStore {
  constructor(private readonly db: Db) {}

  get(): StoredNamespace | undefined {
    const row = this.db.prepare<[], Row>('SELECT gateway_id, base_topic, discovery_prefix FROM mqtt_namespace WHERE id = 1').get();
    return row && { gatewayId: row.gateway_id, baseTopic: row.base_topic, discoveryPrefix: row.discovery_prefix };
  }

  save(ns: StoredNamespace): void {
    this.db
      .prepare('INSERT OR REPLACE INTO mqtt_namespace (id, gateway_id, base_topic, discovery_prefix, updated_at) VALUES (1, ?, ?, ?, ?)')
      .run(ns.gatewayId, ns.baseTopic, ns.discoveryPrefix, Date.now());
  }
}
