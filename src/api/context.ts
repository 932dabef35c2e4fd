/** What the REST API needs from the gateway: one context object, no globals. */
import type { HealthReport } from '../contracts/health.js';
import type { Commands } from '../gateway/commands.js';
import type { DeviceControl } from '../gateway/control.js';
import type { Config } from '../config/config.js';
import type { EventBus } from '../gateway/events.js';
import type { FirmwareUpdater } from '../gateway/firmware-updater.js';
import type { Registry } from '../gateway/registry.js';
import type { EnergyReader, EventLogReader, HistoryReader } from '../gateway/storage.js';
import type { Safety } from '../gateway/safety.js';
import type { RulesEngine } from '../gateway/rules.js';
import type { AuthFailures, TokenStore } from './auth.js';
import type { LiveStream } from './live.js';

export interface ApiContext {
  registry: Registry;
  control: DeviceControl;
  /** CAN node commands (settings that live on the node, identify). */
  commands: Commands;
  history: HistoryReader;
  eventLog: EventLogReader;
  safety: Safety;
  /** Writes buffered readings and events now, so a query sees them. */
  flushPending: () => void;
  rules: RulesEngine;
  /** Firmware updates of the CAN sockets. */
  firmware: FirmwareUpdater;
  energy: EnergyReader;
  events: EventBus;
  health: () => HealthReport;
  /** The configuration without secrets. */
  configSummary: () => unknown;
  /** Prometheus text exposition. */
  metrics: () => Promise<string>;
  http: Config['http'];
  /** Undefined when `http.auth` is off. */
  tokens: TokenStore | undefined;
  /** Wrong credentials: counted and logged for fail2ban. */
  authFailures: AuthFailures;
  /** The live stream's clients (started and stopped with the app). */
  live: LiveStream;
  version: string;
}
