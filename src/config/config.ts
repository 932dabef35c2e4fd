/**
 * The configuration: a YAML file and environment overrides, checked against the one schema
 * (schema.ts). Every problem is reported at once with its key; a broken file never falls back to
 * defaults.
 */
import { readFileSync, existsSync } from 'node:fs';
import { type TSchema, Kind } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { parse as parseYaml, YAMLParseError } from 'yaml';

import { ConfigSchema, type Config } from './schema.js';

export { ConfigSchema, type Config };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? `config: ${problems[0]}` : `config has ${problems.length} problems:\n  ${problems.join('\n  ')}`);
  }
}

/** What a schema allows, in words, for error messages. */
export function allowed(schema: TSchema): string {
  if (schema.anyOf) return `one of ${schema.anyOf.map((s: TSchema) => JSON.stringify(s.const)).join(', ')}`;
  const kind = schema[Kind];
  if (kind === 'Integer' || kind === 'Number') {
    const what = kind === 'Integer' ? 'an integer' : 'a number';
    if (schema.minimum !== undefined && schema.maximum !== undefined) return `${what} from ${schema.minimum} to ${schema.maximum}`;
    return what;
  }
  if (kind === 'String') {
    if (schema.pattern) return `a string matching ${schema.pattern}`;
    return schema.minLength ? 'a non-empty string' : 'a string';
  }
  if (kind === 'Boolean') return 'true or false';
  if (kind === 'Array') return `a list of ${allowed(schema.items)}s${schema.uniqueItems ? ' without repeats' : ''}`;
  if (kind === 'Object') return 'a mapping';
  return kind;
}

function keyOf(path: string): string {
  return path.replace(/^\//, '').replace(/\//g, '.') || '(top level)';
}

/** Keys whose values are never repeated in a message (a wrong type would otherwise print the secret). */
const SECRET_KEYS = new Set(['mqtt.password']);

/** Every problem in a config value, one line each: key, value given, what is allowed. */
export function configProblems(value: unknown): string[] {
  const problems = new Map<string, string>();
  for (const error of Value.Errors(ConfigSchema, value)) {
    const key = keyOf(error.path);
    if (error.type === ValueErrorType.ObjectAdditionalProperties) {
      // Unknown keys are usually typos: name the ones that are allowed there.
      const known = Object.keys(error.schema.properties ?? {});
      problems.set(key, `${key}: unknown key; allowed keys here: ${known.join(', ')}`);
      continue;
    }
    // A union reports per member; one line per key is enough.
    if (problems.has(key) || [...problems.keys()].some((k) => key.startsWith(`${k}.`))) continue;
    const given = SECRET_KEYS.has(key) ? 'the value given' : JSON.stringify(error.value);
    problems.set(key, `${key}: ${given} is not allowed; expected ${allowed(error.schema)}`);
  }
  return [...problems.values()];
}

/** Environment variable name for a key path, e.g. ['can', 'transport'] -> CANPLUG_CAN_TRANSPORT. */
export function envName(path: string[]): string {
  return `CANPLUG_${path.join('_').toUpperCase()}`;
}

function coerceEnv(schema: TSchema, text: string): unknown {
  const kind = schema[Kind];
  if (kind === 'Integer' || kind === 'Number' || (schema.anyOf && typeof schema.anyOf[0].const === 'number')) {
    return text.trim() === '' || Number.isNaN(Number(text)) ? text : Number(text);
  }
  if (kind === 'Boolean') return text === 'true' ? true : text === 'false' ? false : text;
  if (kind === 'Array') {
    return text
      .split(',')
      .filter((s) => s.trim() !== '')
      .map((s) => coerceEnv(schema.items, s.trim()));
  }
  return text;
}

/** Applies CANPLUG_<SECTION>_<KEY> variables onto a raw config object (in place). */
export function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [section, sectionSchema] of Object.entries(ConfigSchema.properties) as [string, TSchema][]) {
    const walk = (schema: TSchema, path: string[], target: Record<string, unknown>) => {
      for (const [key, sub] of Object.entries(schema.properties as Record<string, TSchema>)) {
        const here = [...path, key];
        if (sub[Kind] === 'Object') {
          const child = (target[key] ??= {}) as Record<string, unknown>;
          walk(sub, here, child);
          continue;
        }
        const text = env[envName(here)];
        if (text !== undefined) target[key] = coerceEnv(sub, text);
      }
    };
    const target = (raw[section] ??= {}) as Record<string, unknown>;
    if (typeof target === 'object' && target !== null) walk(sectionSchema, [section], target as Record<string, unknown>);
  }
}

export interface ConfigSource {
  /** Path of the YAML file; undefined uses ./canplug.yaml if present, else the built-in defaults. */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

/** Reads and validates the configuration; throws ConfigError listing every problem. */
export function loadConfig(source: ConfigSource = {}): { config: Config; path: string | undefined } {
  const env = source.env ?? process.env;
  const explicit = source.path ?? env.CANPLUG_CONFIG;
  const path = explicit ?? (existsSync('canplug.yaml') ? 'canplug.yaml' : undefined);
  let raw: unknown = {};
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError([`cannot read ${path}: ${(error as Error).message}`]);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (error) {
      const where = error instanceof YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}` : '';
      throw new ConfigError([`${path} is not valid YAML${where}: ${(error as Error).message.split('\n')[0]}`]);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ConfigError([`${path} must be a mapping of sections (can, mqtt, http, ...)`]);
    }
  }
  return { config: parseConfig(raw as Record<string, unknown>, env), path };
}

/** Validates a raw config object (after environment overrides); throws ConfigError listing every problem. */
export function parseConfig(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Config {
  const value = structuredClone(raw);
  for (const [section, content] of Object.entries(value)) {
    if (content === null) value[section] = {};
  }
  applyEnv(value, env);
  const withDefaults = Value.Default(ConfigSchema, value);
  const problems = configProblems(withDefaults);
  if (problems.length > 0) throw new ConfigError(problems);
  return withDefaults as Config;
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || /^::ffff:127\./i.test(host);
}

/** What the config exposes to the network without a lock: logged as warnings at start-up and by `config check`. */
export function exposureWarnings(config: Config): string[] {
  const warnings: string[] = [];
  const { http, mqtt } = config;
  if (!isLoopback(http.host) && !http.auth) {
    warnings.push(
      `http.host is ${http.host} and http.auth is off: anyone on the network can switch sockets and change limits through the REST API`,
    );
  }
  if (!mqtt.url && !isLoopback(mqtt.embedded_host) && !mqtt.password) {
    warnings.push(
      `the embedded MQTT broker listens on ${mqtt.embedded_host} without credentials: anyone on the network can publish to ${mqtt.base_topic}/+/set and the bridge API; set mqtt.username and mqtt.password (clients must then log in)`,
    );
  }
  return warnings;
}

/** The config without secrets, for /api/health, bridge info and logs. */
export function redactConfig(config: Config): unknown {
  const copy = structuredClone(config);
  if (copy.mqtt.password) copy.mqtt.password = '***';
  if (copy.mqtt.key) copy.mqtt.key = '***';
  try {
    const url = new URL(copy.mqtt.url);
    if (url.password) {
      url.password = '***';
      copy.mqtt.url = url.toString();
    }
  } catch {
    // not a URL (empty: embedded broker)
  }
  return copy;
}
