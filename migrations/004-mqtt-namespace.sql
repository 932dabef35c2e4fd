-- The gateway's MQTT namespace (docs/home-assistant.md, "Several gateways on one broker"): the id in its
-- Home Assistant unique_ids, fixed at the first start, and the base topic and discovery prefix it last
-- published under, so a restart with new ones moves the entities and clears the old retained topics.
CREATE TABLE mqtt_namespace (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  gateway_id TEXT NOT NULL,
  base_topic TEXT NOT NULL,
  discovery_prefix TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
