/** What the REST API needs from the gateway: one context object, no globals. */
import type { DeviceControl } from '../gateway/control.js';
import type { Registry } from '../gateway/registry.js';
import type { History } from '../db/history.js';
import type { EventLog } from '../db/event-log.js';
import type { Safety } from '../gateway/safety.js';
import type { RulesEngine } from '../gateway/rules.js';

export interface HealthReport {
  status: 'ok' | 'starting' | 'degraded' | 'stopping';
  [key: string]: unknown;
}

export interface ApiContext {
  registry: Registry;
  control: DeviceControl;
  history: History;
  eventLog: EventLog;
  safety: Safety;
  /** Writes buffered readings and events now, so a query sees them. */
  flushPending: () => void;
  rules: RulesEngine;
  health: () => HealthReport;
  version: string;
}
