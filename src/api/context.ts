/** What the REST API needs from the gateway: one context object, no globals. */
import type { DeviceControl } from '../gateway/control.js';
import type { Registry } from '../gateway/registry.js';
import type { History } from '../db/history.js';
import type { RulesEngine } from '../gateway/rules.js';

export interface HealthReport {
  status: 'ok' | 'starting' | 'degraded' | 'stopping';
  [key: string]: unknown;
}

export interface ApiContext {
  registry: Registry;
  control: DeviceControl;
  history: History;
  rules: RulesEngine;
  health: () => HealthReport;
  version: string;
}
