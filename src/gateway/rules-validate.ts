/**
 * Checking a rule before it is stored: the shape (one sentence naming the field), then the meaning
 * (devices that exist, quantities they report, values that fit, topics the gateway does not own).
 * Also the rule as clients see it: devices by their current name.
 */
import { Kind, type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import type { Device } from './device.js';
import { RuleError } from './errors.js';
import type { Registry } from './registry.js';
import { RuleInput, type RuleView } from '../contracts/rules.js';
import { KIND_QUANTITIES, type DeviceKind, type RuleQuantity } from '../contracts/vocabulary.js';
import type { ResolvedAction, ResolvedCondition, RuleDefinition, StoredRule } from './stored-rule.js';

export interface ResolveContext {
  registry: Registry;
  /** The gateway's MQTT base topic: rules may not publish under it. */
  baseTopic: string;
}

/** What each kind of device reports. */
const reports = (kind: DeviceKind): readonly RuleQuantity[] => [...KIND_QUANTITIES[kind], 'state'];
const KIND_NAME: Record<DeviceKind, string> = { can: 'a CAN socket', seed: 'the legacy socket', wifi: 'a Wi-Fi plug' };

/** One sentence about the first thing wrong with a body's shape, or undefined when it fits. */
export function shapeProblem(value: unknown): string | undefined {
  return Value.Check(RuleInput, value) ? undefined : explain(RuleInput, value, 'body');
}

function explain(schema: TSchema, value: unknown, where: string): string {
  const error = Value.Errors(schema, value).First();
  if (!error) return `${where}: invalid`;
  const at = `${where}${error.path.replace(/\//g, '.')}`;
  if (error.type === ValueErrorType.ObjectAdditionalProperties) {
    return `${at}: unknown field; allowed here: ${Object.keys(error.schema.properties ?? {}).join(', ')}`;
  }
  if (error.type === ValueErrorType.ObjectRequiredProperty) return `${at}: is required`;
  if (error.type === ValueErrorType.Union) return explainUnion(error.schema.anyOf as TSchema[], error.value, at);
  if (error.type === ValueErrorType.StringPattern && error.schema.description) {
    return `${at}: must be ${error.schema.description}; got ${JSON.stringify(error.value)}`;
  }
  return `${at}: ${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}`;
}

/** A union fails as a whole; say which member was meant and what is wrong with it. */
function explainUnion(members: TSchema[], value: unknown, at: string): string {
  const literals = members.filter((m) => m.const !== undefined).map((m) => JSON.stringify(m.const));
  const objects = members.filter((m) => m[Kind] === 'Object');
  if (objects.length > 0 && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    // Members told apart by a literal field (then.action): pick the one the value names.
    const tag = Object.keys(objects[0].properties).find((k) => objects.every((o) => o.properties[k]?.const !== undefined));
    if (tag && objects.length > 1) {
      const chosen = objects.find((o) => o.properties[tag].const === (value as Record<string, unknown>)[tag]);
      if (!chosen) return `${at}.${tag}: must be one of ${objects.map((o) => JSON.stringify(o.properties[tag].const)).join(', ')}`;
      return explain(chosen, value, at);
    }
    return explain(objects[0], value, at);
  }
  // A nullable array or string: explain the member the value was meant for.
  const meant = members.find((m) => (Array.isArray(value) ? m[Kind] === 'Array' : typeof value === 'string' && m[Kind] === 'String'));
  if (meant) return explain(meant, value, at);
  const KIND_WORDS: Record<string, string> = { Null: 'null', Object: 'an object', Array: 'a list', Number: 'a number', String: 'a string' };
  const kinds = members.filter((m) => m.const === undefined).map((m) => KIND_WORDS[m[Kind]] ?? String(m[Kind]).toLowerCase());
  return `${at}: must be ${[...kinds, ...literals].join(', ').replace(/, ([^,]*)$/, ' or $1')}`;
}

/** Resolves a rule's devices to keys and its values to numbers; throws RuleError with the reason. */
export function resolveRule(input: RuleInput, ctx: ResolveContext): RuleDefinition {
  const when = input.when ?? null;
  const at = input.at ?? null;
  const between = input.between ?? null;
  if (!when && !at) throw new RuleError('a rule needs "when" (a condition) or "at" (a time of day for a schedule)');
  if (when && at) throw new RuleError('a rule has "when" or "at", not both ("at" makes it a schedule)');
  if (at && between) throw new RuleError('between: a schedule ("at") takes "days" but not "between"');
  if (between && between.from === between.to)
    throw new RuleError('between: "from" and "to" are the same time; leave "between" out for all day');
  return { when: when && resolveCondition(when, ctx), at, between, days: input.days ?? null, then: resolveAction(input.then, ctx) };
}

function findDevice(ref: string, field: string, registry: Registry): Device {
  const device = registry.find(ref);
  if (!device) throw new RuleError(`${field}: no device "${ref}" (use a name, a node id or a key from GET /api/devices)`);
  return device;
}

function resolveCondition(c: NonNullable<RuleInput['when']>, ctx: ResolveContext): ResolvedCondition {
  const device = findDevice(c.device, 'when.device', ctx.registry);
  const reported = reports(device.kind);
  if (!reported.includes(c.quantity)) {
    throw new RuleError(`when.quantity: ${device.name} (${KIND_NAME[device.kind]}) reports ${reported.join(', ')}; not ${c.quantity}`);
  }
  let value: number;
  if (c.quantity === 'state') {
    if (c.relation !== '=' && c.relation !== '!=' && c.relation !== 'changes to') {
      throw new RuleError(`when.relation: state is compared with =, != or "changes to", not ${c.relation}`);
    }
    if (c.value === 'ON' || c.value === 1) value = 1;
    else if (c.value === 'OFF' || c.value === 0) value = 0;
    else throw new RuleError(`when.value: state is "ON" or "OFF" (or 1 / 0), not ${JSON.stringify(c.value)}`);
  } else {
    if (typeof c.value !== 'number')
      throw new RuleError(`when.value: ${c.quantity} is compared with a number, not ${JSON.stringify(c.value)}`);
    value = c.value;
  }
  return { deviceKey: device.key, quantity: c.quantity, relation: c.relation, value, forS: c.for_s ?? 0 };
}

function resolveAction(a: RuleInput['then'], ctx: ResolveContext): ResolvedAction {
  switch (a.action) {
    case 'switch':
      return { action: 'switch', deviceKey: findDevice(a.device, 'then.device', ctx.registry).key, state: a.state };
    case 'publish': {
      const problem = topicProblem(a.topic, ctx.baseTopic);
      if (problem) throw new RuleError(`then.topic: ${problem}`);
      return { action: 'publish', topic: a.topic, payload: a.payload, retain: a.retain ?? false };
    }
    case 'event':
      return { action: 'event', message: a.message };
  }
}

/**
 * Why a rule may not publish to a topic. The gateway's own namespace is refused: a rule writing
 * `<base>/<device>/set` would switch devices past the rule's origin (and could loop), and one
 * writing state or bridge topics would lie to every subscriber.
 */
export function topicProblem(topic: string, baseTopic: string): string | undefined {
  if (/[+#\0]/.test(topic)) return 'a topic to publish to cannot contain +, # or NUL';
  if (topic.startsWith('$')) return 'topics starting with "$" belong to the broker';
  if (topic === baseTopic || topic.startsWith(`${baseTopic}/`)) {
    return `topics under "${baseTopic}/" belong to the gateway (state, availability, set, bridge); publish elsewhere, or use a "switch" action`;
  }
  return undefined;
}

/** The rule as REST returns it: devices by current name (by key when the device was removed). */
export function ruleView(rule: StoredRule, registry: Registry): RuleView {
  const missing: string[] = [];
  const name = (key: string) => {
    const device = registry.byKey(key);
    if (!device) missing.push(key);
    return device?.name ?? key;
  };
  const when = rule.when && {
    device: name(rule.when.deviceKey),
    quantity: rule.when.quantity,
    relation: rule.when.relation,
    value: rule.when.quantity === 'state' ? (rule.when.value === 1 ? ('ON' as const) : ('OFF' as const)) : rule.when.value,
    for_s: rule.when.forS,
  };
  const t = rule.then;
  const then = t.action === 'switch' ? { action: t.action, device: name(t.deviceKey), state: t.state } : t;
  return {
    id: rule.id,
    name: rule.name,
    enabled: rule.enabled,
    position: rule.position,
    when,
    at: rule.at,
    between: rule.between,
    days: rule.days,
    then,
    last_fired: rule.lastFired === null ? null : new Date(rule.lastFired).toISOString(),
    fire_count: rule.fireCount,
    problem: missing.length > 0 ? `device ${missing.join(' and ')} no longer exists; the rule cannot act until it is back` : null,
  };
}
