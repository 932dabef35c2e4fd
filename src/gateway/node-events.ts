/** Node event frames (0x080+n) in event-log terms: what happened, its cause and its value in units. */
import { EventCode, type Message } from '../can/codec.js';
import type { EventType } from '../contracts/vocabulary.js';

const EVENT_NAMES: Record<number, { type: EventType; cause: string; unit?: string; scale?: number }> = {
  [EventCode.humidityTrip]: { type: 'trip', cause: 'humidity', unit: '%RH', scale: 0.1 },
  [EventCode.humidityRearmed]: { type: 'rearm', cause: 'humidity', unit: '%RH', scale: 0.1 },
  [EventCode.overCurrentTrip]: { type: 'trip', cause: 'over-current', unit: 'A', scale: 0.001 },
  [EventCode.overPowerTrip]: { type: 'trip', cause: 'over-power', unit: 'W', scale: 0.1 },
  [EventCode.humiditySensorFault]: { type: 'fault', cause: 'humidity sensor' },
  [EventCode.currentSensorFault]: { type: 'fault', cause: 'current sensor' },
  [EventCode.voltageSensorFault]: { type: 'fault', cause: 'voltage sensor' },
  [EventCode.rebooted]: { type: 'reboot', cause: 'node rebooted' },
};

export function describeNodeEvent(message: Extract<Message, { type: 'event' }>): {
  type: EventType;
  cause: string;
  detail: Record<string, unknown>;
  /** A sensor fault: the device's fault flag goes up. */
  fault: boolean;
} {
  const known = EVENT_NAMES[message.code];
  const detail: Record<string, unknown> = { code: message.code, flags: message.flags, uptime: message.uptime };
  if (known?.scale !== undefined) detail.value = Math.round(message.value * known.scale * 1000) / 1000;
  else detail.value = message.value;
  if (known?.unit) detail.unit = known.unit;
  return {
    type: known?.type ?? 'node-event',
    cause: known?.cause ?? `event code 0x${message.code.toString(16)}`,
    detail,
    fault: known?.type === 'fault',
  };
}
