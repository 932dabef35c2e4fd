/** Human-readable lines for protocol messages (`canplug sniff`, `canplug send`). */
import { EventCode, Opcode, type Command, type Message, type Status } from '../can/codec.js';
import type { SeedReading } from '../can/seed-codec.js';
import type { IsoTpPdu } from '../can/isotp.js';
import { UNITS } from '../contracts/vocabulary.js';

const EVENT_NAMES: Record<number, string> = {
  [EventCode.humidityTrip]: 'humidity trip',
  [EventCode.humidityRearmed]: 'humidity back under re-arm level',
  [EventCode.overCurrentTrip]: 'over-current trip',
  [EventCode.overPowerTrip]: 'over-power trip',
  [EventCode.humiditySensorFault]: 'humidity sensor fault',
  [EventCode.currentSensorFault]: 'current sensor fault',
  [EventCode.voltageSensorFault]: 'voltage sensor fault',
  [EventCode.rebooted]: 'node rebooted',
};

/** The unit of an event's value, per event code (docs/protocol.md). */
function eventValue(code: number, value: number): string {
  switch (code) {
    case EventCode.humidityTrip:
    case EventCode.humidityRearmed:
      return `${(value / 10).toFixed(1)} %RH`;
    case EventCode.overCurrentTrip:
      return `${(value / 1000).toFixed(3)} A`;
    case EventCode.overPowerTrip:
      return `${(value / 10).toFixed(1)} W`;
    case EventCode.rebooted:
      return `reset cause ${value}`;
    default:
      return `value ${value}`;
  }
}

export function opcodeName(opcode: number): string {
  const entry = Object.entries(Opcode).find(([, v]) => v === opcode);
  return entry ? entry[0] : `opcode 0x${opcode.toString(16).padStart(2, '0')}`;
}

export function formatStatus(status: Status): string {
  const flags = [status.relay ? 'relay on' : 'relay off'];
  if (status.humidityLatched) flags.push('HUMIDITY INTERLOCK');
  if (status.powerLatched) flags.push('POWER INTERLOCK');
  if (status.sensorFault) flags.push('SENSOR FAULT');
  return flags.join(', ');
}

export function formatCommand(command: Command): string {
  const { op, ...args } = command;
  const text = Object.entries(args)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return text ? `${op} ${text}` : op;
}

const pad = (text: string, width: number) => text.padEnd(width);

function formatPdu(pdu: IsoTpPdu): string {
  switch (pdu.kind) {
    case 'single':
      return `single ${pdu.data}`;
    case 'first':
      return `first of ${pdu.length} bytes ${pdu.data}`;
    case 'consecutive':
      return `consecutive #${pdu.seq} ${pdu.data}`;
    case 'flow':
      return `flow control ${pdu.status} block ${pdu.blockSize} STmin ${pdu.stMin}`;
  }
}

/** One line per message: who, what, the values with units. */
export function formatMessage(message: Message | SeedReading): string {
  if (message.type === 'seed') {
    return `${pad('seed', 8)}${pad(message.quantity, 12)} ${message.value} ${UNITS[message.quantity]}`;
  }
  if (message.type === 'discovery') {
    return `${pad('gateway', 8)}${pad('discovery', 12)} announce yourself: ${message.target === 0 ? 'all nodes' : `node ${message.target}`}`;
  }
  const who = pad(`node ${message.node}`, 8);
  switch (message.type) {
    case 'power':
      return `${who}${pad('power', 12)} ${message.voltage.toFixed(1)} V  ${message.current.toFixed(3)} A  ${message.power.toFixed(1)} W  ${formatStatus(message.status)}  seq ${message.seq}`;
    case 'environment':
      return `${who}${pad('environment', 12)} ${message.humidity.toFixed(1)} %RH  ${message.temperature.toFixed(1)} °C  limit ${message.humidityLimit} %RH (hysteresis ${message.hysteresis})  ${formatStatus(message.status)}  seq ${message.seq}`;
    case 'energy':
      return `${who}${pad('energy', 12)} ${message.energyWh} Wh  uptime ${message.uptime} s`;
    case 'event':
      return `${who}${pad('event', 12)} ${EVENT_NAMES[message.code] ?? `event 0x${message.code.toString(16)}`}: ${eventValue(message.code, message.value)}  uptime ${message.uptime} s`;
    case 'heartbeat':
      return `${who}${pad('heartbeat', 12)} ${message.state}  protocol ${message.protocol}  firmware ${message.firmware}  uptime ${message.uptime} s`;
    case 'command':
      return `${who}${pad('command', 12)} ${formatCommand(message.command)}  token ${message.token}`;
    case 'reply':
      return `${who}${pad('reply', 12)} ${opcodeName(message.opcode)}: ${message.result}  ${formatStatus(message.status)}  token ${message.token}`;
    case 'transfer':
      return `${who}${pad(message.direction === 'toNode' ? 'transfer >' : 'transfer <', 12)} ${formatPdu(message.pdu)}`;
  }
}
