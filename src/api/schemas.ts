/** TypeBox schemas of the REST API: validation, serialization and OpenAPI from one source. */
import { Type } from '@sinclair/typebox';
import type { DeviceView } from '../contracts/device.js';
import { statePayload, type Device } from '../gateway/device.js';

export const ErrorResponse = Type.Object({ error: Type.String(), statusCode: Type.Integer() }, { $id: 'Error' });

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
    state: statePayload(device),
    interlock_reasons: reasons,
    problems: s.conflict ? [...s.problems, s.conflict] : [...s.problems],
    settings: device.settings,
  };
}

export const DeviceParams = Type.Object({
  id: Type.String({ description: 'friendly name, node id or key', minLength: 1, maxLength: 100 }),
});
