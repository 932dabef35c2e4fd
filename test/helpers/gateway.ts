/** Starts a whole gateway for a test: simulated bus, embedded broker and HTTP on free ports, a temporary database. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { parseConfig, type Config } from '../../src/config/config.js';
import { Gateway } from '../../src/daemon/gateway.js';
import type { VirtualBus } from '../../src/can/sim-transport.js';
import { createLogger, silentLogger, type Logger } from '../../src/log.js';

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export interface TestGateway {
  gateway: Gateway;
  config: Config;
  dir: string;
  /** The API token (from the token file in the temp dir); '' when auth is off. */
  token: string;
  /** Headers that carry the token, for mutating requests. */
  auth: { authorization: string };
  stop(): Promise<void>;
}

export function testConfig(overrides: DeepPartial<Config> = {}, dir = mkdtempSync(join(tmpdir(), 'canplug-test-'))): Config {
  const base = {
    can: { sim: { nodes: [1, 2], report_period_ms: 200, wander: false }, heartbeat_timeout_ms: 1500, command_timeout_ms: 500 },
    mqtt: { embedded_port: 0 },
    http: { port: 0 },
    database: { path: join(dir, 'canplug.db'), flush_interval_ms: 50 },
    udp: { port: 0 },
    log: { level: 'silent' },
  };
  const merged = merge(base, overrides as Record<string, unknown>);
  return parseConfig(merged, {});
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? merge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** `bus`: a simulated bus the test has already put its own endpoints on (can.transport sim). */
export async function startGateway(
  overrides: DeepPartial<Config> = {},
  bus?: VirtualBus,
  log: Logger = silentLogger,
): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-test-'));
  const config = testConfig(overrides, dir);
  const gateway = new Gateway({ config, log, bus });
  await gateway.start();
  const token = gateway.parts.tokens ? readFileSync(gateway.parts.tokens.path, 'utf8').trim() : '';
  return {
    gateway,
    config,
    dir,
    token,
    auth: { authorization: `Bearer ${token}` },
    stop: async () => {
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Headers with the gateway's API token, for mutating requests (`{}` when auth is off). */
export function authHeaders(gateway: Gateway): { authorization?: string } {
  return gateway.parts.tokens ? { authorization: `Bearer ${readFileSync(gateway.parts.tokens.path, 'utf8').trim()}` } : {};
}

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An independent MQTT client that records every message it sees (retained included). */
export async function recordingClient(
  url: string,
  filters: string[],
): Promise<{ client: MqttClient; messages: Map<string, string>; log: { topic: string; payload: string; retain: boolean }[] }> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 200 });
  const messages = new Map<string, string>();
  const log: { topic: string; payload: string; retain: boolean }[] = [];
  client.on('message', (topic, payload, packet) => {
    messages.set(topic, payload.toString());
    log.push({ topic, payload: payload.toString(), retain: packet.retain });
  });
  await client.subscribeAsync(filters);
  return { client, messages, log };
}

/** A logger that keeps its lines, for tests that check what is logged (and how often). */
export function memoryLogger(level = 'warn'): { log: Logger; lines: () => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger(level, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines: () => lines };
}
