/**
 * What a Home Assistant instance would see, checked the way HA checks it: an independent MQTT client
 * subscribed to `homeassistant/#` and `canplug/#`, and the discovery rules of HA's MQTT integration
 * (topic format, keys each platform accepts, unique_id, device block, availability, device classes
 * with their units, state classes, topics that exist). Written from HA's docs, not from canplug's code.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface HaView {
  client: MqttClient;
  /** Latest payload per topic; an empty payload deletes the topic (as a retained clear does). */
  topics: Map<string, string>;
  /** Every message, in order. */
  log: { topic: string; payload: string; retain: boolean; at: number }[];
  close(): Promise<void>;
}

/** `qos`: Home Assistant subscribes at QoS 0; a QoS 1 subscriber gets at most Mosquitto's max_queued_messages (1000) retained at once. */
export async function haView(
  url: string,
  filters = ['homeassistant/#', 'canplug/#'],
  options: IClientOptions = {},
  qos: 0 | 1 = 1,
): Promise<HaView> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options });
  const topics = new Map<string, string>();
  const log: HaView['log'] = [];
  client.on('message', (topic, payload, packet) => {
    const text = payload.toString();
    if (text === '') topics.delete(topic);
    else topics.set(topic, text);
    log.push({ topic, payload: text, retain: packet.retain, at: performance.now() });
  });
  await client.subscribeAsync(filters, { qos });
  return { client, topics, log, close: () => client.endAsync(true) };
}

export interface DiscoveredEntity {
  topic: string;
  component: string;
  nodeId: string;
  objectId: string;
  config: Record<string, unknown>;
}

const COMMON_KEYS = [
  'name',
  'unique_id',
  'device',
  'origin',
  'availability',
  'availability_mode',
  'availability_topic',
  'availability_template',
  'payload_available',
  'payload_not_available',
  'state_topic',
  'value_template',
  'entity_category',
  'icon',
  'device_class',
  'json_attributes_topic',
  'json_attributes_template',
  'enabled_by_default',
  'qos',
  'encoding',
  'default_entity_id',
  'entity_picture',
];
const PLATFORM_KEYS: Record<string, string[]> = {
  event: ['event_types'],
  sensor: [
    'unit_of_measurement',
    'state_class',
    'suggested_display_precision',
    'expire_after',
    'force_update',
    'last_reset_value_template',
    'options',
  ],
  binary_sensor: ['payload_on', 'payload_off', 'expire_after', 'force_update', 'off_delay'],
  switch: ['command_topic', 'command_template', 'payload_on', 'payload_off', 'state_on', 'state_off', 'optimistic', 'retain'],
  update: [
    'command_topic',
    'payload_install',
    'latest_version_topic',
    'latest_version_template',
    'release_summary',
    'release_url',
    'title',
    'retain',
    'display_precision',
  ],
};
/** Sensor device classes used here and the units HA accepts for them. */
const SENSOR_UNITS: Record<string, string[]> = {
  voltage: ['V', 'mV', 'kV'],
  current: ['A', 'mA'],
  power: ['W', 'kW'],
  energy: ['Wh', 'kWh', 'MWh'],
  humidity: ['%'],
  temperature: ['°C', '°F', 'K'],
  duration: ['d', 'h', 'min', 's', 'ms'],
};
const BINARY_CLASSES = [
  'battery',
  'connectivity',
  'door',
  'heat',
  'lock',
  'moisture',
  'plug',
  'power',
  'problem',
  'running',
  'safety',
  'smoke',
  'tamper',
];
const SWITCH_CLASSES = ['outlet', 'switch'];
const EVENT_CLASSES = ['button', 'doorbell', 'motion'];
const STATE_CLASSES = ['measurement', 'total', 'total_increasing'];
/** The device block's keys (MQTT_ENTITY_DEVICE_INFO_SCHEMA: a strict schema, an unknown key rejects the whole config) and their types. */
const DEVICE_STRINGS = [
  'manufacturer',
  'model',
  'model_id',
  'name',
  'hw_version',
  'serial_number',
  'sw_version',
  'via_device',
  'suggested_area',
  'configuration_url',
];
const DEVICE_KEYS = ['identifiers', 'connections', ...DEVICE_STRINGS];
/** cv.configuration_url: an http(s) URL with a host (vol.Url), or homeassistant://. */
const validConfigurationUrl = (text: string) => {
  try {
    const url = new URL(text);
    return ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '') || url.protocol === 'homeassistant:';
  } catch {
    return false;
  }
};

export function discoveredEntities(topics: Map<string, string>, prefix = 'homeassistant'): DiscoveredEntity[] {
  const entities: DiscoveredEntity[] = [];
  for (const [topic, payload] of topics) {
    if (!topic.startsWith(`${prefix}/`) || !topic.endsWith('/config')) continue;
    const parts = topic.split('/');
    entities.push({
      topic,
      component: parts[1],
      nodeId: parts.length === 5 ? parts[2] : '',
      objectId: parts.at(-2)!,
      config: JSON.parse(payload),
    });
  }
  return entities;
}

/** Everything HA would reject or get wrong, one line per problem; empty when all is well. */
export function haProblems(topics: Map<string, string>, prefix = 'homeassistant'): string[] {
  const problems: string[] = [];
  const entities = discoveredEntities(topics, prefix);
  const uniqueIds = new Map<string, string>();
  const deviceIds = new Set(entities.flatMap((e) => (e.config.device as { identifiers?: string[] })?.identifiers ?? []));
  for (const { topic, component, config: c } of entities) {
    const say = (what: string) => problems.push(`${topic}: ${what}`);
    if (!/^[^/]+\/(sensor|binary_sensor|switch|event|update)\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+\/config$/.test(topic))
      say('topic is not <prefix>/<component>/<node_id>/<object_id>/config');
    const allowed = [...COMMON_KEYS, ...(PLATFORM_KEYS[component] ?? [])];
    for (const key of Object.keys(c)) if (!allowed.includes(key)) say(`key "${key}" is not accepted by the ${component} platform`);
    if (!('name' in c)) say('no name (null for the main feature)');
    if (typeof c.unique_id !== 'string' || c.unique_id === '') say('no unique_id');
    else if (uniqueIds.has(c.unique_id)) say(`unique_id ${c.unique_id} also used by ${uniqueIds.get(c.unique_id)}`);
    else uniqueIds.set(c.unique_id, topic);
    const origin = c.origin as { name?: unknown } | undefined;
    if (typeof origin?.name !== 'string') say('no origin block with a name');
    const device = c.device as Record<string, unknown> | undefined;
    if (!device || !Array.isArray(device.identifiers) || device.identifiers.length === 0) say('device block without identifiers');
    else {
      if (typeof device.name !== 'string') say('device without a name');
      if (device.via_device !== undefined && !deviceIds.has(device.via_device as string))
        say(`via_device ${String(device.via_device)} is no discovered device`);
      for (const key of Object.keys(device)) if (!DEVICE_KEYS.includes(key)) say(`device key "${key}" is not accepted`);
      for (const key of DEVICE_STRINGS)
        if (device[key] !== undefined && typeof device[key] !== 'string') say(`device ${key} is not a string`);
      if (typeof device.configuration_url === 'string' && !validConfigurationUrl(device.configuration_url))
        say(`configuration_url ${device.configuration_url} is not an http(s) URL`);
    }
    if (typeof c.state_topic !== 'string') say('no state_topic');
    // An event topic carries only fresh, unretained events; every other state topic must hold something.
    else if (component !== 'event' && !topics.has(c.state_topic)) say(`state_topic ${c.state_topic} has nothing published`);
    if (c.entity_category !== undefined && !['config', 'diagnostic'].includes(c.entity_category as string))
      say(`entity_category ${String(c.entity_category)}`);
    if (c.availability !== undefined) {
      if (!Array.isArray(c.availability) || c.availability.length === 0) say('availability is not a list of topics');
      else
        for (const a of c.availability as { topic?: string }[]) {
          const payload = a.topic ? topics.get(a.topic) : undefined;
          if (payload !== 'online' && payload !== 'offline')
            say(`availability topic ${a.topic} holds ${JSON.stringify(payload)}, not online/offline`);
        }
      if (c.availability_topic !== undefined) say('availability and availability_topic together');
      if (!['all', 'any', 'latest'].includes((c.availability_mode as string) ?? 'latest'))
        say(`availability_mode ${String(c.availability_mode)}`);
    }
    const dc = c.device_class as string | undefined;
    if (component === 'sensor') {
      if (dc !== undefined) {
        const units = SENSOR_UNITS[dc];
        if (!units) say(`device_class ${dc} is not one this checker knows`);
        else if (!units.includes(c.unit_of_measurement as string))
          say(`unit ${String(c.unit_of_measurement)} is not valid for device_class ${dc}`);
      }
      if (c.state_class !== undefined && !STATE_CLASSES.includes(c.state_class as string)) say(`state_class ${String(c.state_class)}`);
      if (dc === 'energy' && !['total', 'total_increasing'].includes(c.state_class as string))
        say('energy sensor is not total/total_increasing (HA Energy dashboard)');
    }
    if (component === 'binary_sensor' && dc !== undefined && !BINARY_CLASSES.includes(dc)) say(`binary_sensor device_class ${dc}`);
    if (component === 'event') {
      const types = c.event_types;
      if (!Array.isArray(types) || types.length === 0 || !types.every((t) => typeof t === 'string'))
        say('event without a list of event_types');
      if (dc !== undefined && !EVENT_CLASSES.includes(dc)) say(`event device_class ${dc}`);
    }
    if (c.enabled_by_default !== undefined && typeof c.enabled_by_default !== 'boolean') say('enabled_by_default is not a boolean');
    if (component === 'switch') {
      if (dc !== undefined && !SWITCH_CLASSES.includes(dc)) say(`switch device_class ${dc}`);
      if (typeof c.command_topic !== 'string') say('switch without command_topic');
    }
    if (component === 'update') {
      if (dc !== undefined && dc !== 'firmware') say(`update device_class ${dc}`);
      if (c.command_topic !== undefined && typeof c.payload_install !== 'string') say('update with a command_topic but no payload_install');
    }
  }
  return problems;
}

/** The state JSON key a value template reads (`{{ value_json.power ... }}`). */
export function templateKey(template: unknown): string | undefined {
  return typeof template === 'string' ? /value_json\.(\w+)/.exec(template)?.[1] : undefined;
}

/**
 * What Home Assistant would render wrongly, replaying a message log in order: a message on a topic that
 * a config live at that moment reads, which is not what that config expects there (a value template
 * fed "" or anything but a JSON object; an availability topic fed anything but online/offline). HA
 * logs a template error for each. Returns one line per such message; empty when all is well.
 */
export function misreadMessages(log: HaView['log'], prefix = 'homeassistant'): string[] {
  const live = new Map<string, Record<string, unknown>>();
  const problems: string[] = [];
  for (const { topic, payload } of log) {
    if (topic.startsWith(`${prefix}/`) && topic.endsWith('/config')) {
      if (payload === '') live.delete(topic);
      else live.set(topic, JSON.parse(payload));
      continue;
    }
    for (const [configTopic, c] of live) {
      const availability = ((c.availability as { topic: string }[] | undefined) ?? []).map((a) => a.topic);
      if (availability.includes(topic) && payload !== 'online' && payload !== 'offline') {
        problems.push(`${topic} got ${JSON.stringify(payload)} while ${configTopic} reads it as availability`);
      }
      if (c.state_topic === topic && (c.value_template !== undefined || configTopic.split('/')[1] === 'event') && !isJsonObject(payload)) {
        problems.push(`${topic} got ${JSON.stringify(payload)} while ${configTopic} renders it`);
      }
    }
  }
  return problems;
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
