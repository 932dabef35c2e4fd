/**
 * The rules engine (docs/rules.md): ordered if-this-then-that rules over every device's readings,
 * and schedules. A condition fires once per false-to-true transition (after holding `for_s`
 * seconds if set) and re-arms when it is false again. Switching goes through DeviceControl with
 * origin `rule:<id>`, so the safety interlock wins and its refusal is recorded with the rule's id.
 */
import type { RulesStore } from './storage.js';
import type { Logger } from '../log.js';
import type { RelayActionName } from '../can/codec.js';
import type { DeviceControl } from './control.js';
import { RefusedError } from './errors.js';
import type { Feature } from './feature.js';
import type { Device, Reading } from './device.js';
import type { EventBus } from './events.js';
import type { Registry } from './registry.js';
import type { RuleInput } from '../contracts/rules.js';
import type { Origin, Relation, RuleQuantity } from '../contracts/vocabulary.js';
import type { StoredRule } from './stored-rule.js';
import { inWindow, minuteKey, scheduleDue } from './rules-time.js';
import { resolveRule } from './rules-validate.js';

export interface RulesDeps {
  store: RulesStore;
  registry: Registry;
  control: DeviceControl;
  events: EventBus;
  /** The gateway's MQTT connection (publish actions). */
  mqtt: { connected: boolean; publish(topic: string, payload: string, options: { retain?: boolean; qos?: 0 | 1 }): void };
  baseTopic: string;
  log: Logger;
}

/** Where a rule is between transitions. */
interface Runtime {
  phase: 'idle' | 'holding' | 'active';
  timer?: NodeJS.Timeout;
  /** The value at the previous reading ("changes to" needs a change it saw). */
  previous?: number;
  /** The minute a schedule last fired in (once per minute, also across a DST fall-back). */
  scheduledMinute?: string;
}

const ACTIONS: Record<'on' | 'off' | 'toggle', RelayActionName> = { on: 'close', off: 'open', toggle: 'toggle' };

function compare(relation: Relation, value: number, target: number): boolean {
  switch (relation) {
    case '=':
    case 'changes to':
      return value === target;
    case '!=':
      return value !== target;
    case '>':
      return value > target;
    case '<':
      return value < target;
    case '<=':
      return value <= target;
    case '>=':
      return value >= target;
  }
}

function valueIn(source: Reading | Device['state'], quantity: RuleQuantity): number | undefined {
  if (quantity === 'state') return source.relay === undefined ? undefined : source.relay ? 1 : 0;
  return source[quantity];
}

export class RulesEngine implements Feature {
  /** Rule actions fired since start (metric canplug_rules_fired_total). */
  fired = 0;
  private rules: StoredRule[] = [];
  /** Enabled condition rules by the device key they watch, in position order. */
  private byDevice = new Map<string, StoredRule[]>();
  private readonly runtime = new Map<number, Runtime>();
  /** Switch actions per target device run one after another, in the order the rules fired. */
  private readonly queues = new Map<string, Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  private scheduleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: RulesDeps) {}

  start(): void {
    this.reload();
    this.unsubscribe = this.deps.events.subscribe('rules', { reading: (r) => this.onReading(r) });
    this.scheduleNextMinute();
  }

  stop(): void {
    this.unsubscribe?.();
    clearTimeout(this.scheduleTimer);
    for (const rt of this.runtime.values()) clearTimeout(rt.timer);
    this.runtime.clear();
  }

  list(): StoredRule[] {
    return this.rules;
  }

  get(id: number): StoredRule | undefined {
    return this.rules.find((r) => r.id === id);
  }

  /** Validates and stores a new rule; throws RuleError with the reason. */
  create(input: RuleInput): StoredRule {
    const definition = resolveRule(input, this.deps);
    const rule = this.deps.store.insert({
      name: input.name,
      enabled: input.enabled ?? true,
      position: input.position ?? Number.MAX_SAFE_INTEGER,
      definition,
    });
    this.reload();
    this.deps.log.info({ rule: rule.id, name: rule.name }, 'rule created');
    return this.get(rule.id)!;
  }

  /** Replaces a rule (omitted enabled/position keep theirs); its trigger state starts over. */
  update(id: number, input: RuleInput): StoredRule | undefined {
    const current = this.get(id);
    if (!current) return undefined;
    const definition = resolveRule(input, this.deps);
    this.forget(id);
    this.deps.store.update(id, {
      name: input.name,
      enabled: input.enabled ?? current.enabled,
      position: input.position ?? current.position,
      definition,
    });
    this.reload();
    this.deps.log.info({ rule: id, name: input.name }, 'rule updated');
    return this.get(id);
  }

  remove(id: number): boolean {
    this.forget(id);
    const removed = this.deps.store.remove(id);
    this.reload();
    if (removed) this.deps.log.info({ rule: id }, 'rule deleted');
    return removed;
  }

  /** Fires the schedule rules due in the minute of `date` (the minute timer calls this). */
  runSchedule(date: Date): void {
    const minute = minuteKey(date);
    for (const rule of this.rules) {
      if (!rule.enabled || rule.at === null || !scheduleDue(rule.at, rule.days, date)) continue;
      const rt = this.state(rule);
      if (rt.scheduledMinute === minute) continue;
      rt.scheduledMinute = minute;
      this.fire(rule, undefined, { at: rule.at });
    }
  }

  private reload(): void {
    this.rules = this.deps.store.all();
    const byDevice = new Map<string, StoredRule[]>();
    for (const rule of this.rules) {
      if (!rule.enabled || !rule.when) continue;
      const list = byDevice.get(rule.when.deviceKey) ?? [];
      list.push(rule);
      byDevice.set(rule.when.deviceKey, list);
    }
    this.byDevice = byDevice;
    for (const id of this.runtime.keys()) if (!this.rules.some((r) => r.id === id && r.enabled)) this.forget(id);
  }

  private forget(id: number): void {
    clearTimeout(this.runtime.get(id)?.timer);
    this.runtime.delete(id);
  }

  private state(rule: StoredRule): Runtime {
    let rt = this.runtime.get(rule.id);
    if (!rt) {
      rt = { phase: 'idle' };
      this.runtime.set(rule.id, rt);
    }
    return rt;
  }

  private onReading(reading: Reading): void {
    const rules = this.byDevice.get(reading.device.key);
    if (!rules) return;
    for (const rule of rules) {
      const value = valueIn(reading, rule.when!.quantity);
      if (value !== undefined) this.evaluate(rule, value, reading.device, new Date(reading.ts));
    }
  }

  private evaluate(rule: StoredRule, value: number, device: Device, now: Date): void {
    const when = rule.when!;
    const rt = this.state(rule);
    const previous = rt.previous;
    rt.previous = value;
    // "changes to" needs a change it saw; while it holds (same value again) it stays true.
    const changed = when.relation !== 'changes to' || rt.phase !== 'idle' || (previous !== undefined && previous !== when.value);
    const holds = changed && compare(when.relation, value, when.value) && inWindow(rule.between, rule.days, now);
    if (!holds) {
      clearTimeout(rt.timer);
      rt.timer = undefined;
      rt.phase = 'idle';
      return;
    }
    if (rt.phase !== 'idle') return;
    if (when.forS === 0) {
      rt.phase = 'active';
      this.fire(rule, device, { value });
      return;
    }
    rt.phase = 'holding';
    rt.timer = setTimeout(() => this.held(rule.id), when.forS * 1000);
  }

  /** The `for_s` timer ran out without a reading contradicting the condition: check it once more and fire. */
  private held(id: number): void {
    const rule = this.get(id);
    if (!rule?.when) return;
    const when = rule.when;
    const rt = this.state(rule);
    rt.timer = undefined;
    const device = this.deps.registry.byKey(when.deviceKey);
    const value = device && valueIn(device.state, when.quantity);
    if (
      device?.available &&
      value !== undefined &&
      compare(when.relation, value, when.value) &&
      inWindow(rule.between, rule.days, new Date())
    ) {
      rt.phase = 'active';
      this.fire(rule, device, { value, for_s: when.forS });
    } else {
      rt.phase = 'idle';
    }
  }

  /** Fires from reading handlers and timers: a failure (the database refusing a write) is logged, never thrown into them. */
  private fire(rule: StoredRule, device: Device | undefined, trigger: Record<string, unknown>): void {
    try {
      this.act(rule, device, trigger);
    } catch (error) {
      this.deps.log.error({ rule: rule.id, err: (error as Error).message }, 'rule firing failed');
    }
  }

  private act(rule: StoredRule, device: Device | undefined, trigger: Record<string, unknown>): void {
    const ts = Date.now();
    const origin: Origin = `rule:${rule.id}`;
    this.fired++;
    rule.lastFired = ts;
    rule.fireCount++;
    this.deps.store.recordFiring(rule.id, ts);
    const t = rule.then;
    const target = t.action === 'switch' ? this.deps.registry.byKey(t.deviceKey) : undefined;
    const summary =
      t.action === 'switch'
        ? `switch ${target?.name ?? t.deviceKey} ${t.state}`
        : t.action === 'publish'
          ? `publish to ${t.topic}`
          : t.message;
    this.deps.log.info({ rule: rule.id, name: rule.name, ...trigger }, `rule fired: ${summary}`);
    this.deps.events.emit('log', {
      ts,
      device,
      type: 'rule',
      cause: t.action === 'event' ? t.message : `${rule.name}: ${summary}`,
      origin,
      detail: { rule: rule.id, name: rule.name, ...(rule.when ? { quantity: rule.when.quantity } : {}), ...trigger, action: t.action },
    });

    switch (t.action) {
      case 'event':
        return;
      case 'publish':
        if (!this.deps.mqtt.connected) return this.failed(rule, device, 'the MQTT broker is not connected');
        this.deps.mqtt.publish(t.topic, t.payload, { retain: t.retain, qos: 1 });
        return;
      case 'switch': {
        if (!target) return this.failed(rule, device, `device ${t.deviceKey} no longer exists`);
        const run = () =>
          this.deps.control.setRelay(target, ACTIONS[t.state], origin).then(
            () => undefined,
            (error: Error) => {
              // An interlock refusal is already recorded by the control path, with this rule as origin.
              if (!(error instanceof RefusedError)) this.failed(rule, target, error.message);
              else this.deps.log.info({ rule: rule.id, device: target.name, reason: error.message }, 'rule action refused by an interlock');
            },
          );
        const next = (this.queues.get(target.key) ?? Promise.resolve()).then(run);
        this.queues.set(target.key, next);
        void next.then(() => {
          if (this.queues.get(target.key) === next) this.queues.delete(target.key);
        });
        return;
      }
    }
  }

  private failed(rule: StoredRule, device: Device | undefined, reason: string): void {
    this.deps.log.warn({ rule: rule.id, name: rule.name, reason }, 'rule action failed');
    this.deps.events.emit('log', {
      ts: Date.now(),
      device,
      type: 'rule',
      cause: `action failed: ${reason}`,
      origin: `rule:${rule.id}`,
      detail: { rule: rule.id, name: rule.name },
    });
  }

  private scheduleNextMinute(): void {
    // A little after each minute starts, so timer jitter never lands in the minute before.
    const delay = 60_000 - (Date.now() % 60_000) + 50;
    this.scheduleTimer = setTimeout(() => {
      this.runSchedule(new Date());
      this.scheduleNextMinute();
    }, delay);
    this.scheduleTimer.unref();
  }
}
