/**
 * The rule format (docs/rules.md): one TypeBox schema for what clients send and get (REST, the
 * dashboard). The engine runs, and SQLite stores, the resolved form (src/gateway/stored-rule.ts).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DAYS, RELATIONS, RULE_QUANTITIES } from './vocabulary.js';

const literals = <T extends string>(values: readonly T[], description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    description ? { description } : {},
  );

const TimeOfDay = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: "HH:MM, 24 h, the gateway machine's local time" });
const DeviceRef = Type.String({ minLength: 1, maxLength: 100, description: 'name, node id or key; answers show the current name' });

export const RuleCondition = Type.Object(
  {
    device: DeviceRef,
    quantity: literals(RULE_QUANTITIES, 'state is the relay: compare with "ON"/"OFF" (or 1/0)'),
    relation: literals(RELATIONS),
    value: Type.Union([Type.Number(), Type.Literal('ON'), Type.Literal('OFF')]),
    for_s: Type.Optional(
      Type.Number({ minimum: 0, maximum: 86400, description: 'the condition must hold this long before the rule fires' }),
    ),
  },
  { additionalProperties: false },
);

export const SwitchAction = Type.Object(
  { action: Type.Literal('switch'), device: DeviceRef, state: literals(['on', 'off', 'toggle'] as const) },
  { additionalProperties: false },
);
export const PublishAction = Type.Object(
  {
    action: Type.Literal('publish'),
    topic: Type.String({ minLength: 1, maxLength: 256, description: "not under the gateway's base topic, no wildcards" }),
    payload: Type.String({ maxLength: 65536 }),
    retain: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const EventAction = Type.Object(
  { action: Type.Literal('event'), message: Type.String({ minLength: 1, maxLength: 500 }) },
  { additionalProperties: false },
);
export const RuleAction = Type.Union([SwitchAction, PublishAction, EventAction]);

const Window = Type.Object(
  { from: TimeOfDay, to: TimeOfDay },
  { additionalProperties: false, description: 'from inclusive, to exclusive; may wrap past midnight' },
);
const Days = Type.Array(literals(DAYS), { minItems: 1, maxItems: 7, uniqueItems: true });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** The editable part of a rule. */
const editable = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  enabled: Type.Optional(Type.Boolean({ description: 'default true; on PUT, omitted keeps the current value' })),
  position: Type.Optional(Type.Integer({ minimum: 1, description: '1 = evaluated first; default last; on PUT, omitted keeps it' })),
  when: Type.Optional(Nullable(RuleCondition)),
  at: Type.Optional(Nullable(TimeOfDay)),
  between: Type.Optional(Nullable(Window)),
  days: Type.Optional(Nullable(Days)),
  then: RuleAction,
};

/** A rule as POST and PUT take it. The read-only fields of GET are accepted and ignored, so GET, edit, PUT works. */
export const RuleInput = Type.Object(
  {
    ...editable,
    id: Type.Optional(Type.Integer()),
    last_fired: Type.Optional(Type.Unknown()),
    fire_count: Type.Optional(Type.Unknown()),
    problem: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type RuleInput = Static<typeof RuleInput>;

export const RuleView = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    enabled: Type.Boolean(),
    position: Type.Integer(),
    when: Nullable(RuleCondition),
    at: Nullable(TimeOfDay),
    between: Nullable(Window),
    days: Nullable(Days),
    then: RuleAction,
    last_fired: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    fire_count: Type.Integer(),
    problem: Type.Union([Type.String(), Type.Null()], { description: 'why the rule cannot act, e.g. a device it names was removed' }),
  },
  { additionalProperties: false },
);
export type RuleView = Static<typeof RuleView>;

export const RuleParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
