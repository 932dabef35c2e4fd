/**
 * The words every layer and the dashboard share, each spelled out once: the TypeBox schemas of the
 * contracts (src/contracts), the gateway, the adapters and the dashboard derive from these lists.
 * Plain values with no imports, so the dashboard's bundle can take them as they are.
 */

/** The measured quantities, in the order of the state payload and the history columns. */
export const QUANTITIES = ['voltage', 'current', 'power', 'energy', 'humidity', 'temperature'] as const;
export type Quantity = (typeof QUANTITIES)[number];

export const UNITS: Record<Quantity, string> = {
  voltage: 'V',
  current: 'A',
  power: 'W',
  energy: 'kWh',
  humidity: '%RH',
  temperature: '°C',
};

/** Where stored history comes from: the raw readings (kept days), per-minute rollups (about a year), hourly ones (for ever). */
export const HISTORY_TIERS = ['raw', '1m', '1h'] as const;
export type HistoryTier = (typeof HISTORY_TIERS)[number];

/** Calendar periods for energy use, in the gateway's local time zone (a week starts on Monday). */
export const ENERGY_PERIODS = ['day', 'week', 'month'] as const;
export type EnergyPeriod = (typeof ENERGY_PERIODS)[number];

export const DEVICE_KINDS = ['can', 'seed', 'wifi'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

/** What each kind of device measures (a Wi-Fi plug: power only; the legacy socket: no energy counter, no temperature). */
export const KIND_QUANTITIES: Record<DeviceKind, readonly Quantity[]> = {
  can: QUANTITIES,
  seed: ['voltage', 'current', 'power', 'humidity'],
  wifi: ['power'],
};

/**
 * Event-log entry types. From the node: trip, rearm, fault, reboot, node-event (a code the
 * gateway does not know). From the gateway: trip and rearm (its own rule), refusal, reset, limit,
 * relay, availability, alarm and alarm-cleared (watchdogs), rule.
 */
export const EVENT_TYPES = [
  'trip',
  'rearm',
  'reset',
  'refusal',
  'limit',
  'relay',
  'availability',
  'alarm',
  'alarm-cleared',
  'fault',
  'reboot',
  'node-event',
  'rule',
  'firmware',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Who caused an event: a node, the gateway itself, an interface, or a rule (`rule:<id>`). */
export const ORIGINS = ['node', 'gateway', 'rest', 'mqtt', 'cli'] as const;
export type Origin = (typeof ORIGINS)[number] | `rule:${number}`;

/** Rule conditions compare a quantity, or the relay ("state", ON/OFF as 1/0). */
export const RULE_QUANTITIES = [...QUANTITIES, 'state'] as const;
export type RuleQuantity = (typeof RULE_QUANTITIES)[number];

export const RELATIONS = ['=', '!=', '>', '<', '<=', '>=', 'changes to'] as const;
export type Relation = (typeof RELATIONS)[number];

/** In Date.getDay() order (0 = Sunday), as rules store them. */
export const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Day = (typeof DAYS)[number];
/** The same days as a week is shown (Monday first). */
export const WEEK: readonly Day[] = [...DAYS.slice(1), DAYS[0]];
