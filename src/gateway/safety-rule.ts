/**
 * The backup safety rule as pure functions, shared by the safety worker (which opens the relay) and
 * the main thread's checks (which refuse closes and record the trip): one rule, evaluated twice.
 */
import { Type, type Static } from '@sinclair/typebox';

export const LimitsPatch = Type.Object(
  {
    humidity_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: '%RH' })),
    humidity_hysteresis: Type.Optional(Type.Integer({ minimum: 0, maximum: 99, description: '%RH' })),
    power_limit_w: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: 'W, 0 = none' })),
    current_limit_a: Type.Optional(Type.Number({ minimum: 0, maximum: 65, description: 'A, 0 = none' })),
    auto_rearm: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type LimitsPatch = Static<typeof LimitsPatch>;
export type Limits = Required<LimitsPatch>;

export type LatchKind = 'humidity' | 'over-power' | 'over-current';

/** The quantities the rule looks at, as far as a frame or datagram carried them. */
export interface RuleReading {
  humidity?: number;
  power?: number;
  current?: number;
}

export interface Trip {
  kind: LatchKind;
  reason: string;
  value: number;
  limit: number;
}

/** The first limit the reading is at or over (humidity, power, current), or undefined. */
export function overLimit(limits: Limits, r: RuleReading): Trip | undefined {
  if (r.humidity !== undefined && r.humidity >= limits.humidity_limit) {
    return {
      kind: 'humidity',
      reason: `humidity ${r.humidity} %RH is at or over the limit ${limits.humidity_limit} %RH`,
      value: r.humidity,
      limit: limits.humidity_limit,
    };
  }
  if (r.power !== undefined && limits.power_limit_w > 0 && r.power >= limits.power_limit_w) {
    return {
      kind: 'over-power',
      reason: `power ${r.power} W is at or over the limit ${limits.power_limit_w} W`,
      value: r.power,
      limit: limits.power_limit_w,
    };
  }
  if (r.current !== undefined && limits.current_limit_a > 0 && r.current >= limits.current_limit_a) {
    return {
      kind: 'over-current',
      reason: `current ${r.current} A is at or over the limit ${limits.current_limit_a} A`,
      value: r.current,
      limit: limits.current_limit_a,
    };
  }
  return undefined;
}

/** Humidity must be below this for a humidity latch to be reset or re-armed. */
export function rearmLevel(limits: Limits): number {
  return limits.humidity_limit - limits.humidity_hysteresis;
}

/** Why a person's reset of a humidity latch must wait at this humidity, or undefined when it may go ahead. */
export function humidityResetRefusal(name: string, limits: Limits, humidity: number | undefined): string | undefined {
  if (humidity === undefined) return `${name}: no fresh humidity reading, so the humidity condition cannot be confirmed clear`;
  if (humidity < rearmLevel(limits)) return undefined;
  return `${name}: humidity ${humidity} %RH is not yet below the re-arm level ${rearmLevel(limits)} %RH (limit ${limits.humidity_limit} minus hysteresis ${limits.humidity_hysteresis})`;
}

/** The limits `next` loosens compared with `now`, in words (empty: none is looser). */
export function loosened(now: Limits, next: Limits): string[] {
  const looser: string[] = [];
  const noLimit = (v: number) => v === 0;
  if (next.humidity_limit > now.humidity_limit) looser.push(`humidity_limit ${now.humidity_limit} -> ${next.humidity_limit}`);
  if (rearmLevel(next) > rearmLevel(now)) looser.push('a higher re-arm level');
  for (const key of ['power_limit_w', 'current_limit_a'] as const) {
    if (!noLimit(now[key]) && (noLimit(next[key]) || next[key] > now[key])) looser.push(`${key} ${now[key]} -> ${next[key]}`);
  }
  if (next.auto_rearm && !now.auto_rearm) looser.push('auto_rearm on');
  return looser;
}
