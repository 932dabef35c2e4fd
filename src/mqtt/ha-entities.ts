/**
 * The Home Assistant entities a device gets (docs/home-assistant.md), one spec per entity: which
 * platform, its object id, and its own discovery fields. Discovery adds what every entity shares
 * (unique_id, state topic, availability, device, origin). A new entity is one more spec here.
 */
import { QUANTITIES, type DeviceKind } from '../contracts/vocabulary.js';
import { statePayload, type Device } from '../gateway/device.js';
import { DEVICE_EVENT_TYPES } from './device-topics.js';

export type Component = 'switch' | 'sensor' | 'binary_sensor' | 'event';

/** A device's topics an entity can read or write. */
export interface EntityTopics {
  state: string;
  command: string;
  event: string;
}

export interface EntitySpec {
  /** What feeds it: a key of the device's state JSON, or `event` (the event topic). */
  key: string;
  component: Component;
  /** Object id in the discovery topic and the unique_id suffix; never change it (HA keys entities on it). */
  object: string;
  /** Its discovery fields beyond the shared ones; they win over the shared ones (the event entity's state_topic). */
  config: (topics: EntityTopics) => Record<string, unknown>;
}

const sensor = (key: string, name: string, fields: Record<string, unknown>): EntitySpec => ({
  key,
  component: 'sensor',
  object: key,
  config: () => ({ name, value_template: `{{ value_json.${key} | default(None) }}`, ...fields }),
});
const flag = (key: string, name: string, fields: Record<string, unknown>): EntitySpec => ({
  key,
  component: 'binary_sensor',
  object: key,
  config: () => ({ name, value_template: `{{ 'ON' if value_json.${key} else 'OFF' }}`, payload_on: 'ON', payload_off: 'OFF', ...fields }),
});
const diagnostic = { entity_category: 'diagnostic' };
/** Changes with every report: HA would record a row each time for an entity few people look at. */
const noisy = { ...diagnostic, enabled_by_default: false };

/** Every entity a device can have, in the order HA lists them. */
export const ENTITIES: readonly EntitySpec[] = [
  {
    key: 'state',
    component: 'switch',
    object: 'switch',
    // name null: the switch is the device's main feature and takes the device's name.
    config: (t) => ({
      name: null,
      device_class: 'outlet',
      value_template: '{{ value_json.state | default(None) }}',
      command_topic: t.command,
      payload_on: 'ON',
      payload_off: 'OFF',
      state_on: 'ON',
      state_off: 'OFF',
    }),
  },
  sensor('voltage', 'Voltage', {
    device_class: 'voltage',
    unit_of_measurement: 'V',
    state_class: 'measurement',
    suggested_display_precision: 1,
  }),
  sensor('current', 'Current', {
    device_class: 'current',
    unit_of_measurement: 'A',
    state_class: 'measurement',
    suggested_display_precision: 2,
  }),
  sensor('power', 'Power', { device_class: 'power', unit_of_measurement: 'W', state_class: 'measurement', suggested_display_precision: 1 }),
  // total_increasing in kWh: what HA's Energy dashboard accepts; the gateway keeps it monotonic.
  sensor('energy', 'Energy', {
    device_class: 'energy',
    unit_of_measurement: 'kWh',
    state_class: 'total_increasing',
    suggested_display_precision: 3,
  }),
  sensor('humidity', 'Humidity', {
    device_class: 'humidity',
    unit_of_measurement: '%',
    state_class: 'measurement',
    suggested_display_precision: 1,
  }),
  sensor('temperature', 'Temperature', {
    device_class: 'temperature',
    unit_of_measurement: '°C',
    state_class: 'measurement',
    suggested_display_precision: 1,
  }),
  flag('interlock', 'Interlock', { device_class: 'safety' }),
  flag('fault', 'Fault', { device_class: 'problem' }),
  flag('problem', 'Safety alarm', { device_class: 'problem' }),
  {
    // Trips, refusals, resets and re-arms as they happen, with the reason as an attribute: automations
    // trigger on it ("notify me when the bathroom socket trips") without parsing logs.
    key: 'event',
    component: 'event',
    object: 'safety_event',
    config: (t) => ({ name: 'Safety event', state_topic: t.event, event_types: [...DEVICE_EVENT_TYPES], icon: 'mdi:shield-alert-outline' }),
  },
  sensor('uptime', 'Uptime', { device_class: 'duration', unit_of_measurement: 's', ...noisy }),
  sensor('firmware', 'Firmware', { icon: 'mdi:chip', ...diagnostic }),
  sensor('frames_lost', 'Frames lost', { state_class: 'total_increasing', icon: 'mdi:counter', ...noisy }),
];

/** The entities each kind of device always has; kinds not listed get one per key in their state JSON. */
export const KIND_ENTITIES: Partial<Record<DeviceKind, readonly string[]>> = {
  can: ENTITIES.map((e) => e.key),
  // The 2021 socket reports no temperature, energy, latch or fault; the gateway's own rule still latches it.
  seed: ['state', 'voltage', 'current', 'power', 'humidity', 'interlock', 'problem', 'event'],
  // The gateway's power limit applies to a plug too (a trip, a refused close).
  wifi: ['state', 'power', 'event'],
};

/** The entities a device gets: its kind's list, plus a sensor for any quantity it actually reports. */
export function entitiesFor(device: Device): EntitySpec[] {
  const fixed = KIND_ENTITIES[device.kind] ?? Object.keys(statePayload(device));
  const reported = new Set<string>(QUANTITIES.filter((q) => device.state[q] !== undefined));
  if (device.state.relay !== undefined) reported.add('state');
  return ENTITIES.filter((e) => fixed.includes(e.key) || reported.has(e.key));
}

const MANUFACTURER: Record<DeviceKind, string> = { can: 'canplug', seed: 'canplug', wifi: 'AsyncSmartPlug' };
/** The hardware, as HA's model_id (the model is the longer name in DEVICE_MODEL). */
const MODEL_ID: Record<DeviceKind, string> = { can: 'ESP32-MCP2515', seed: 'ESP32-MCP2515', wifi: 'ESP8266' };

/** What tells the device apart on its bus: the CAN node id, the plug's chip id (none for the single legacy socket). */
function serialNumber(device: Device): string | undefined {
  if (device.kind === 'can') return `node ${device.node}`;
  if (device.kind === 'wifi') return device.key.slice('wifi:'.length);
  return undefined;
}

/** The HA device block: identity, what it is, and the dashboard page for it. */
export function deviceBlock(device: Device, ids: { nodeId: string; bridgeId: string }, dashboardUrl: string): Record<string, unknown> {
  const serial = serialNumber(device);
  return {
    identifiers: [ids.nodeId],
    name: device.name,
    manufacturer: MANUFACTURER[device.kind],
    model: device.info.model,
    model_id: MODEL_ID[device.kind],
    ...(serial !== undefined ? { serial_number: serial } : {}),
    ...(device.info.firmware !== undefined ? { sw_version: device.info.firmware } : {}),
    configuration_url: `${dashboardUrl}/#/devices/${encodeURIComponent(device.key)}`,
    via_device: ids.bridgeId,
  };
}
