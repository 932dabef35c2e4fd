/**
 * An event-log entry as the interfaces show it: GET /api/events, the live stream and the dashboard.
 * SQLite stores the same fields with `ts` in epoch ms (src/db/event-log.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import { EVENT_TYPES, ORIGINS } from './vocabulary.js';

export const EventTypeSchema = Type.Union(
  EVENT_TYPES.map((t) => Type.Literal(t)),
  { description: 'trip, rearm, reset, refusal, limit, relay, availability, alarm, alarm-cleared, fault, reboot, node-event, rule' },
);

// biome-ignore lint/suspicious/noTemplateCurlyInString: TypeBox's template-literal pattern, not a JavaScript template
export const OriginSchema = Type.Union([...ORIGINS.map((o) => Type.Literal(o)), Type.TemplateLiteral('rule:${number}')], {
  description: 'node, gateway, rest, mqtt, cli, or rule:<id>',
});

export const EventEntry = Type.Object({
  id: Type.Union([Type.Integer(), Type.Null()], { description: 'null on the live stream: not stored yet' }),
  ts: Type.String({ format: 'date-time' }),
  device: Type.Union([Type.String(), Type.Null()], { description: 'the device name at the time of asking' }),
  type: EventTypeSchema,
  cause: Type.Union([Type.String(), Type.Null()]),
  origin: Type.Union([OriginSchema, Type.Null()]),
  detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});
export type EventEntry = Static<typeof EventEntry>;
