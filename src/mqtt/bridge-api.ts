/**
 * The bridge API over MQTT in zigbee2mqtt's style (docs/home-assistant.md): requests on
 * `<base>/bridge/request/<path>` with a JSON object (an optional `transaction` is echoed), answers on
 * `<base>/bridge/response/<path>` as `{"data":{...},"status":"ok"|"error","error":"...","transaction":...}`.
 * Every payload is checked against its TypeBox schema first; a bad one is answered with a specific
 * error, logged once, and never reaches the bus. Also publishes the retained `<base>/bridge/devices`
 * list and `<base>/bridge/info`. The gateway subscribes to requests only, never to its own responses.
 */
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { interlocked, type Device } from '../gateway/device.js';
import { hostname } from 'node:os';
import type { Commands } from '../gateway/commands.js';
import { commandNode } from '../gateway/node-settings.js';
import type { EventBus } from '../gateway/events.js';
import type { Registry } from '../gateway/registry.js';
import { LimitsPatch, type Safety } from '../gateway/safety.js';
import type { HealthReport } from '../contracts/health.js';
import type { Logger } from '../log.js';
import { LogLimiter } from '../log-limiter.js';
import type { MqttConnection } from './connection.js';

/** How often the health summary is looked at for `bridge/health`. */
const HEALTH_CHECK_MS = 2000;

/** Requests are small; anything bigger is refused before parsing. */
export const MAX_REQUEST_BYTES = 4096;

const Transaction = Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Number()], { description: 'echoed in the response' }));
const DeviceRef = Type.String({ minLength: 1, maxLength: 64, description: 'friendly name, node id or key' });
const request = <P extends TProperties>(properties: P) =>
  Type.Object({ ...properties, transaction: Transaction }, { additionalProperties: false });

export const RenameRequest = request({ from: DeviceRef, to: Type.String({ minLength: 1, maxLength: 64 }) });
export const RemoveRequest = request({
  id: DeviceRef,
  force: Type.Optional(Type.Boolean({ description: 'remove a device that is online (it comes back at its next heartbeat)' })),
});
export const DeviceRequest = request({ id: DeviceRef });
export const LimitsRequest = request({ id: DeviceRef, ...LimitsPatch.properties });
export const HealthRequest = request({});

/** A request the gateway refuses, with the reason for the response. */
class RequestError extends Error {}

interface Route {
  schema: TObject;
  run: (payload: Record<string, unknown>) => Promise<Record<string, unknown>>;
}

export interface BridgeApiDeps {
  connection: MqttConnection;
  events: EventBus;
  registry: Registry;
  safety: Safety;
  commands: Commands;
  baseTopic: string;
  discoveryPrefix: string;
  /** In the HA unique_ids (namespace.ts). */
  gatewayId: string;
  version: string;
  configSummary: () => unknown;
  health: () => HealthReport;
  log: Logger;
}

export class BridgeApi {
  private readonly routes: Record<string, Route>;
  private readonly cleanups: (() => void)[] = [];
  private readonly logLimiter = new LogLimiter();
  private devicesJson: string | undefined;
  private healthJson: string | undefined;
  private devicesTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: BridgeApiDeps) {
    this.routes = {
      'device/rename': this.route(RenameRequest, (r) => this.rename(r)),
      'device/remove': this.route(RemoveRequest, (r) => this.remove(r)),
      'device/limits': this.route(LimitsRequest, (r) => this.limits(r)),
      'device/reset': this.route(DeviceRequest, (r) => this.reset(r)),
      'device/report': this.route(DeviceRequest, (r) => this.report(r)),
      health_check: this.route(HealthRequest, async () => {
        const health = this.deps.health();
        return { healthy: health.status === 'ok', ...health };
      }),
    };
  }

  start(): void {
    const { connection, events, baseTopic } = this.deps;
    const requestPrefix = `${baseTopic}/bridge/request/`;
    this.cleanups.push(
      connection.subscribe(`${requestPrefix}#`, (topic, payload, retained) => {
        void this.handle(topic.slice(requestPrefix.length), payload, retained);
      }),
      events.subscribe('mqtt-bridge-api', {
        'device.added': () => this.scheduleDevices(),
        'device.changed': () => this.scheduleDevices(),
        'device.renamed': () => this.scheduleDevices(),
        'device.removed': () => this.scheduleDevices(),
      }),
    );
    const republish = () => this.publishRetained(true);
    connection.on('connect', republish);
    const healthTimer = setInterval(() => this.publishHealth(), HEALTH_CHECK_MS);
    healthTimer.unref();
    this.cleanups.push(
      () => connection.off('connect', republish),
      () => clearTimeout(this.devicesTimer),
      () => clearInterval(healthTimer),
    );
    this.publishRetained(false);
  }

  stop(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  /** Handles one request; resolves once the response is published (tests await it). */
  async handle(path: string, payload: Buffer, retained = false): Promise<void> {
    const parsed = this.parse(path, payload, retained);
    const transaction = parsed.transaction;
    if ('error' in parsed) return this.respondError(path, parsed.error, transaction);
    try {
      const data = await parsed.route.run(parsed.value);
      this.respond(path, { data, status: 'ok', ...(transaction !== undefined ? { transaction } : {}) });
    } catch (error) {
      this.respondError(path, (error as Error).message, transaction);
    }
  }

  private parse(
    path: string,
    payload: Buffer,
    retained: boolean,
  ): { route: Route; value: Record<string, unknown>; transaction?: unknown } | { error: string; transaction?: unknown } {
    const route = Object.hasOwn(this.routes, path) ? this.routes[path] : undefined;
    if (!route) return { error: `unknown request "${clip(path)}"; known: ${Object.keys(this.routes).join(', ')}` };
    if (retained)
      return { error: 'retained requests are ignored (they would run again after every reconnect); publish without the retain flag' };
    if (payload.length > MAX_REQUEST_BYTES)
      return { error: `payload is ${payload.length} bytes; a request is at most ${MAX_REQUEST_BYTES}` };
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(payload).trim();
    } catch {
      return { error: 'payload is not UTF-8 text; send a JSON object' };
    }
    let json: unknown = {}; // an empty payload is an empty request, as in zigbee2mqtt (health_check)
    if (text !== '') {
      try {
        json = JSON.parse(text);
      } catch (error) {
        return { error: `payload is not valid JSON (${(error as Error).message}); send a JSON object such as {"id":"socket-1"}` };
      }
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      return {
        error: `payload must be a JSON object such as {"id":"socket-1"}; got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`,
      };
    }
    const value = json as Record<string, unknown>;
    const transaction = typeof value.transaction === 'string' || typeof value.transaction === 'number' ? value.transaction : undefined;
    const problem = schemaProblem(route.schema, value);
    if (problem) return { error: problem, transaction };
    return { route, value, transaction };
  }

  private route<S extends TObject>(schema: S, run: (request: Static<S>) => Promise<Record<string, unknown>>): Route {
    return { schema, run: (value) => run(value as Static<S>) };
  }

  private device(ref: string): Device {
    const device = this.deps.registry.find(ref);
    if (!device) throw new RequestError(`no device "${clip(ref)}"`);
    return device;
  }

  private async rename(r: Static<typeof RenameRequest>): Promise<Record<string, unknown>> {
    const device = this.device(r.from);
    const from = device.name;
    if (r.to !== from) this.deps.registry.rename(device, r.to);
    this.deps.log.info({ from, to: r.to, key: device.key }, 'device renamed over MQTT');
    return { from, to: r.to, key: device.key };
  }

  private async remove(r: Static<typeof RemoveRequest>): Promise<Record<string, unknown>> {
    const device = this.device(r.id);
    // The registry refuses an interlocked device, and an online one unless forced.
    this.deps.registry.remove(device, { force: r.force });
    this.deps.log.info({ device: device.name, key: device.key }, 'device removed over MQTT');
    return { id: device.name, key: device.key, force: r.force === true };
  }

  private async limits(r: Static<typeof LimitsRequest>): Promise<Record<string, unknown>> {
    const { id, transaction: _transaction, ...patch } = r;
    if (Object.keys(patch).length === 0) {
      throw new RequestError(`give at least one limit: ${Object.keys(LimitsPatch.properties).join(', ')}`);
    }
    const device = this.device(id);
    const limits = await this.deps.safety.setLimits(device, patch, 'mqtt');
    return { id: device.name, limits };
  }

  private async reset(r: Static<typeof DeviceRequest>): Promise<Record<string, unknown>> {
    const device = this.device(r.id);
    await this.deps.safety.reset(device, 'mqtt');
    return { id: device.name, interlock: interlocked(device) };
  }

  private async report(r: Static<typeof DeviceRequest>): Promise<Record<string, unknown>> {
    const device = this.device(r.id);
    await commandNode(this.deps.commands, device, { op: 'reportNow' }, 'a request to report now');
    return { id: device.name };
  }

  private respond(path: string, response: Record<string, unknown>): void {
    this.deps.connection.publish(`${this.deps.baseTopic}/bridge/response/${path}`, JSON.stringify(response), { qos: 1 });
  }

  private respondError(path: string, error: string, transaction: unknown): void {
    // Limited per request kind: the error names values from the payload, and a path can be anything.
    const suppressed = this.logLimiter.take(Object.hasOwn(this.routes, path) ? path : 'unknown request');
    if (suppressed !== undefined)
      this.deps.log.warn({ request: clip(path), error, ...(suppressed ? { suppressed } : {}) }, 'MQTT bridge request refused');
    this.respond(path, { data: {}, status: 'error', error, ...(transaction !== undefined ? { transaction } : {}) });
  }

  private publishRetained(force: boolean): void {
    const { connection, baseTopic, discoveryPrefix, gatewayId, version } = this.deps;
    const info = {
      version,
      base_topic: baseTopic,
      discovery_prefix: discoveryPrefix,
      gateway_id: gatewayId,
      instance: connection.instance,
      host: hostname(),
      config: this.deps.configSummary(),
    };
    connection.publish(`${baseTopic}/bridge/info`, JSON.stringify(info), { retain: true, qos: 1 });
    if (force) this.devicesJson = undefined;
    this.publishDevices();
    this.publishHealth(force);
  }

  /**
   * `<base>/bridge/health`, retained: the status and what is missing (an HTTP port that is taken, a
   * CAN interface that is down...), published when it changes. `bridge/state` stays online/offline
   * (Home Assistant's availability reads it).
   */
  publishHealth(force = false): void {
    const { status, problems } = this.deps.health();
    if (status === 'starting') return; // the gateway publishes it once it is up
    const json = JSON.stringify({ status, problems: problems ?? [] });
    if (!force && json === this.healthJson) return;
    this.healthJson = json;
    this.deps.connection.publish(`${this.deps.baseTopic}/bridge/health`, json, { retain: true, qos: 1 });
  }

  /** Device events come in bursts (every reading): publish the list at most every 100 ms, and only when it changed. */
  private scheduleDevices(): void {
    this.devicesTimer ??= setTimeout(() => {
      this.devicesTimer = undefined;
      this.publishDevices();
    }, 100);
  }

  private publishDevices(): void {
    const list = this.deps.registry.list().map((d) => ({
      friendly_name: d.name,
      key: d.key,
      kind: d.kind,
      ...(d.node !== undefined ? { node: d.node } : {}),
      model: d.info.model,
      ...(d.info.firmware !== undefined ? { firmware: d.info.firmware } : {}),
      ...(d.kind !== 'wifi' ? { limits: this.deps.safety.limits(d) } : {}),
    }));
    const json = JSON.stringify(list);
    if (json === this.devicesJson) return;
    this.devicesJson = json;
    this.deps.connection.publish(`${this.deps.baseTopic}/bridge/devices`, json, { retain: true, qos: 1 });
  }
}

/** The first thing wrong with a request, in one sentence naming the field. */
export function schemaProblem(schema: TObject, value: unknown): string | undefined {
  const first = Value.Errors(schema, value).First();
  if (!first) return undefined;
  const field = first.path.slice(1).replace(/\//g, '.') || 'payload';
  const allowed = Object.keys(schema.properties).join(', ');
  switch (first.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return `${clip(field)}: unknown field; allowed fields: ${allowed}`;
    case ValueErrorType.ObjectRequiredProperty:
      return `${field}: required`;
    case ValueErrorType.ObjectMinProperties:
      return `give at least one of: ${allowed}`;
    default:
      return `${clip(field)}: ${first.message.toLowerCase()}; got ${clip(JSON.stringify(first.value) ?? 'nothing')}`;
  }
}

function clip(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 60 ? `${clean.slice(0, 60)}...` : clean;
}
