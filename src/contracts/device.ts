/**
 * A device as the interfaces show it: the state object (MQTT `<base>/<device>`, REST `state`, the
 * live stream) and the REST device object (GET /api/devices/:id, the live stream, the dashboard).
 */
import { Type, type Static, type TNumber, type TOptional } from '@sinclair/typebox';
import { DEVICE_KINDS, QUANTITIES, UNITS, type Quantity } from './vocabulary.js';

const measured = Object.fromEntries(QUANTITIES.map((q) => [q, Type.Optional(Type.Number({ description: UNITS[q] }))])) as Record<
  Quantity,
  TOptional<TNumber>
>;

/** The state payload: retained on MQTT at `<base>/<device>` and the `state` of the REST device object. */
export const DeviceStatePayload = Type.Object(
  {
    state: Type.Optional(Type.Union([Type.Literal('ON'), Type.Literal('OFF')], { description: 'the relay' })),
    ...measured,
    interlock: Type.Boolean({ description: "a latch (the node's or the gateway's) refuses closing" }),
    fault: Type.Boolean({ description: 'a sensor or the node reports a fault' }),
    problem: Type.Boolean({ description: 'a watchdog alarm is raised (see problems)' }),
    uptime: Type.Optional(Type.Number({ description: 's, from the node' })),
    firmware: Type.Optional(Type.String()),
    plug_energy_estimate_wh: Type.Optional(Type.Number({ description: 'Wi-Fi plug: its own estimate, Wh since it booted (not a meter)' })),
    plug_clock: Type.Optional(Type.String({ description: 'Wi-Fi plug: its own clock, as text' })),
    frames_lost: Type.Integer({ description: 'CAN frames lost, from sequence gaps' }),
  },
  { additionalProperties: false },
);
export type DeviceStatePayload = Static<typeof DeviceStatePayload>;

export const DeviceKindSchema = Type.Union(DEVICE_KINDS.map((k) => Type.Literal(k)));

/** The REST device object, also sent on the live stream. */
export const DeviceView = Type.Object({
  name: Type.String({ description: 'friendly name, used in topics and URLs' }),
  key: Type.String({ description: 'stable identity: can:<node>, seed, wifi:<chip id>' }),
  kind: DeviceKindSchema,
  node: Type.Optional(Type.Integer()),
  available: Type.Boolean(),
  last_seen: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  model: Type.String(),
  state: DeviceStatePayload,
  interlock_reasons: Type.Array(Type.String()),
  problems: Type.Array(Type.String()),
  settings: Type.Record(Type.String(), Type.Unknown()),
});
export type DeviceView = Static<typeof DeviceView>;

/** The settings a client may change (PATCH /api/devices/:id): the node's are sent to it first. */
export const DeviceSettings = Type.Object(
  {
    room: Type.Optional(Type.String({ maxLength: 64, description: 'shown on the dashboard to group devices' })),
    hidden: Type.Optional(Type.Boolean({ description: 'leave the device off the dashboard' })),
    report_period_ms: Type.Optional(
      Type.Integer({ minimum: 100, maximum: 60000, description: 'CAN sockets: how often the node reports, ms (sent to the node)' }),
    ),
    power_on_state: Type.Optional(
      Type.Union([Type.Literal('off'), Type.Literal('on'), Type.Literal('restore')], {
        description: 'CAN sockets: the relay after a power loss (sent to the node)',
      }),
    ),
    ws_port: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 65535, description: "Wi-Fi plugs: the port of this plug's WebSocket, instead of udp.ws_port" }),
    ),
  },
  { additionalProperties: false },
);
export type DeviceSettings = Static<typeof DeviceSettings>;
