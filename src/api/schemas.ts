/** TypeBox schemas of the REST API: validation, serialization and OpenAPI from one source. */
import { Type, type Static } from '@sinclair/typebox';
import { statePayload, type Device } from '../gateway/device.js';

export const ErrorResponse = Type.Object({ error: Type.String(), statusCode: Type.Integer() }, { $id: 'Error' });

const Num = Type.Optional(Type.Number());

/** The same object as the device's MQTT state topic. */
export const DeviceState = Type.Object(
  {
    state: Type.Optional(Type.Union([Type.Literal('ON'), Type.Literal('OFF')])),
    voltage: Num,
    current: Num,
    power: Num,
    energy: Num,
    humidity: Num,
    temperature: Num,
    interlock: Type.Boolean(),
    fault: Type.Boolean(),
    problem: Type.Boolean(),
    uptime: Num,
    firmware: Type.Optional(Type.String()),
    frames_lost: Type.Integer(),
  },
  { additionalProperties: true },
);

export const DeviceView = Type.Object({
  name: Type.String({ description: 'friendly name, used in topics and URLs' }),
  key: Type.String({ description: 'stable identity: can:<node>, seed, wifi:<chip id>' }),
  kind: Type.Union([Type.Literal('can'), Type.Literal('seed'), Type.Literal('wifi')]),
  node: Type.Optional(Type.Integer()),
  available: Type.Boolean(),
  last_seen: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  model: Type.String(),
  state: DeviceState,
  interlock_reasons: Type.Array(Type.String()),
  problems: Type.Array(Type.String()),
  settings: Type.Record(Type.String(), Type.Unknown()),
});
export type DeviceView = Static<typeof DeviceView>;

export function deviceView(device: Device): DeviceView {
  const s = device.state;
  const reasons: string[] = [];
  if (s.nodeHumidityLatched) reasons.push('humidity interlock latched on the node');
  if (s.nodePowerLatched) reasons.push('over-power/over-current latch set on the node');
  if (s.gatewayLatch) reasons.push(s.gatewayLatch);
  return {
    name: device.name,
    key: device.key,
    kind: device.kind,
    ...(device.node !== undefined ? { node: device.node } : {}),
    available: device.available,
    last_seen: device.lastSeen ? new Date(device.lastSeen).toISOString() : null,
    model: device.info.model,
    state: statePayload(device) as DeviceView['state'],
    interlock_reasons: reasons,
    problems: s.conflict ? [...s.problems, s.conflict] : [...s.problems],
    settings: device.settings,
  };
}

export const DeviceParams = Type.Object({
  id: Type.String({ description: 'friendly name, node id or key', minLength: 1, maxLength: 100 }),
});
