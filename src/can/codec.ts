/**
 * Protocol v1 codec (docs/protocol.md, firmware/canplug.dbc): CAN frames <-> typed messages.
 * Pure functions, no allocation beyond the result: this runs for every frame on the bus.
 */
import type { CanFrame } from './frame.js';
import { decodePdu, encodePdu, type IsoTpPdu } from './isotp.js';

export const PROTOCOL_VERSION = 1;
export const MAX_NODE_ID = 63;

export const CobBase = {
  discovery: 0x000,
  event: 0x080,
  power: 0x180,
  command: 0x200,
  environment: 0x280,
  energy: 0x380,
  reply: 0x580,
  heartbeat: 0x700,
  /** ISO-TP frames of a firmware transfer, gateway -> node; the lowest priority but one. */
  transferToNode: 0x780,
  /** ISO-TP frames of a firmware transfer, node -> gateway (0x7C0 + node id); the lowest priority. */
  transferToGateway: 0x7c0,
} as const;

export interface Status {
  relay: boolean;
  humidityLatched: boolean;
  powerLatched: boolean;
  sensorFault: boolean;
}

export const NodeState = { boot: 0, running: 1, fault: 2 } as const;
export type NodeStateName = keyof typeof NodeState;

export const EventCode = {
  humidityTrip: 0x01,
  humidityRearmed: 0x02,
  overCurrentTrip: 0x03,
  overPowerTrip: 0x04,
  humiditySensorFault: 0x10,
  currentSensorFault: 0x11,
  voltageSensorFault: 0x12,
  rebooted: 0x20,
} as const;

export const Opcode = {
  setRelay: 0x01,
  reportNow: 0x02,
  setHumidityLimit: 0x03,
  resetLatch: 0x04,
  setReportPeriod: 0x05,
  identify: 0x06,
  setPowerLimit: 0x07,
  setPowerOnState: 0x08,
} as const;

export const ReplyResult = { ok: 0, interlocked: 1, badArgument: 2, unknownOpcode: 3, failed: 4 } as const;
export type ReplyResultName = keyof typeof ReplyResult;

export const RelayAction = { open: 0, close: 1, toggle: 2 } as const;
export type RelayActionName = keyof typeof RelayAction;

export const PowerOnState = { off: 0, on: 1, restore: 2 } as const;
export type PowerOnStateName = keyof typeof PowerOnState;

export type Command =
  | { op: 'setRelay'; action: RelayActionName }
  | { op: 'reportNow' }
  | { op: 'setHumidityLimit'; limit: number; hysteresis: number }
  | { op: 'resetLatch' }
  | { op: 'setReportPeriod'; ms: number }
  | { op: 'identify'; seconds: number }
  | { op: 'setPowerLimit'; watts: number }
  | { op: 'setPowerOnState'; state: PowerOnStateName };

export type Message =
  | { type: 'discovery'; target: number }
  | { type: 'event'; node: number; code: number; flags: number; value: number; uptime: number }
  | { type: 'power'; node: number; voltage: number; current: number; power: number; status: Status; seq: number }
  | { type: 'command'; node: number; token: number; command: Command }
  | {
      type: 'environment';
      node: number;
      humidity: number;
      temperature: number;
      humidityLimit: number;
      hysteresis: number;
      status: Status;
      seq: number;
    }
  | { type: 'energy'; node: number; energyWh: number; uptime: number }
  | { type: 'reply'; node: number; opcode: number; token: number; result: ReplyResultName; status: Status; detail: number }
  | { type: 'heartbeat'; node: number; state: NodeStateName; protocol: number; firmware: string; uptime: number }
  | { type: 'transfer'; node: number; direction: 'toNode' | 'toGateway'; pdu: IsoTpPdu };

export type MessageType = Message['type'];

export type DecodeResult = { ok: true; message: Message } | { ok: false; reason: 'unknown' | 'malformed'; detail: string };

const unknown = (detail: string): DecodeResult => ({ ok: false, reason: 'unknown', detail });
const malformed = (detail: string): DecodeResult => ({ ok: false, reason: 'malformed', detail });

export function decodeStatus(byte: number): Status {
  return {
    relay: (byte & 0x01) !== 0,
    humidityLatched: (byte & 0x02) !== 0,
    powerLatched: (byte & 0x04) !== 0,
    sensorFault: (byte & 0x08) !== 0,
  };
}

export function encodeStatus(status: Status): number {
  return (
    (status.relay ? 0x01 : 0) | (status.humidityLatched ? 0x02 : 0) | (status.powerLatched ? 0x04 : 0) | (status.sensorFault ? 0x08 : 0)
  );
}

function nameOf<T extends Record<string, number>>(table: T, value: number): keyof T | undefined {
  for (const key in table) if (table[key] === value) return key;
  return undefined;
}

/** Splits an 11-bit id into function base and node id; undefined when it is not a v1 id. */
export function splitId(id: number): { base: number; node: number } | undefined {
  if (id === CobBase.discovery) return { base: CobBase.discovery, node: 0 };
  if ((id & 0x7c0) === CobBase.transferToGateway) return id & 0x3f ? { base: CobBase.transferToGateway, node: id & 0x3f } : undefined;
  const base = id & 0x780;
  const node = id & 0x07f;
  if (node < 1 || node > MAX_NODE_ID) return undefined;
  for (const key in CobBase) if (CobBase[key as keyof typeof CobBase] === base) return { base, node };
  return undefined;
}

export function decode(frame: CanFrame): DecodeResult {
  if (frame.err) return malformed('error frame');
  if (frame.ext) return unknown(`29-bit id 0x${frame.id.toString(16)}`);
  if (frame.rtr) return malformed(`remote frame 0x${frame.id.toString(16)}`);
  const parts = splitId(frame.id);
  if (!parts) return unknown(`id 0x${frame.id.toString(16)} is not a protocol v1 id`);
  const { base, node } = parts;
  const d = frame.data;
  const expected = base === CobBase.discovery ? 2 : 8;
  if (d.length !== expected) {
    return malformed(`id 0x${frame.id.toString(16)}: DLC ${d.length}, expected ${expected}`);
  }
  switch (base) {
    case CobBase.discovery:
      if (d[0] !== 0x01) return malformed(`discovery request 0x${d[0].toString(16)} is not "announce" (0x01)`);
      if (d[1] > MAX_NODE_ID) return malformed(`discovery target ${d[1]} is over ${MAX_NODE_ID}`);
      return { ok: true, message: { type: 'discovery', target: d[1] } };
    case CobBase.event:
      return {
        ok: true,
        message: { type: 'event', node, code: d[0], flags: d[1], value: d.readUInt16LE(2), uptime: d.readUInt32LE(4) },
      };
    case CobBase.power:
      return {
        ok: true,
        message: {
          type: 'power',
          node,
          voltage: d.readUInt16LE(0) / 10,
          current: d.readUInt16LE(2) / 1000,
          power: d.readUInt16LE(4) / 10,
          status: decodeStatus(d[6]),
          seq: d[7],
        },
      };
    case CobBase.command:
      return decodeCommand(node, d);
    case CobBase.environment:
      return {
        ok: true,
        message: {
          type: 'environment',
          node,
          humidity: d.readUInt16LE(0) / 10,
          temperature: d.readInt16LE(2) / 10,
          humidityLimit: d[4],
          hysteresis: d[5],
          status: decodeStatus(d[6]),
          seq: d[7],
        },
      };
    case CobBase.energy:
      return { ok: true, message: { type: 'energy', node, energyWh: d.readUInt32LE(0), uptime: d.readUInt32LE(4) } };
    case CobBase.reply: {
      const result = nameOf(ReplyResult, d[2]);
      if (result === undefined) return malformed(`reply result code ${d[2]} is not defined`);
      return {
        ok: true,
        message: {
          type: 'reply',
          node,
          opcode: d[0],
          token: d[1],
          result,
          status: decodeStatus(d[3]),
          detail: d.readUInt32LE(4),
        },
      };
    }
    case CobBase.heartbeat: {
      const state = nameOf(NodeState, d[0]);
      if (state === undefined) return malformed(`heartbeat state ${d[0]} is not defined`);
      const fw = d.readUInt16LE(2);
      return {
        ok: true,
        message: {
          type: 'heartbeat',
          node,
          state,
          protocol: d[1],
          firmware: `${fw >> 8}.${fw & 0xff}`,
          uptime: d.readUInt32LE(4),
        },
      };
    }
    case CobBase.transferToNode:
    case CobBase.transferToGateway: {
      const pdu = decodePdu(d);
      if (!pdu.ok) return malformed(`transfer frame: ${pdu.detail}`);
      return {
        ok: true,
        message: { type: 'transfer', node, direction: base === CobBase.transferToNode ? 'toNode' : 'toGateway', pdu: pdu.pdu },
      };
    }
  }
  return unknown(`id 0x${frame.id.toString(16)}`);
}

function decodeCommand(node: number, d: Buffer): DecodeResult {
  const token = d[1];
  const ok = (command: Command): DecodeResult => ({ ok: true, message: { type: 'command', node, token, command } });
  switch (d[0]) {
    case Opcode.setRelay: {
      const action = nameOf(RelayAction, d[2]);
      return action ? ok({ op: 'setRelay', action }) : malformed(`set relay argument ${d[2]} is not 0, 1 or 2`);
    }
    case Opcode.reportNow:
      return ok({ op: 'reportNow' });
    case Opcode.setHumidityLimit:
      return ok({ op: 'setHumidityLimit', limit: d[2], hysteresis: d[3] });
    case Opcode.resetLatch:
      return ok({ op: 'resetLatch' });
    case Opcode.setReportPeriod:
      return ok({ op: 'setReportPeriod', ms: d.readUInt16LE(2) });
    case Opcode.identify:
      return ok({ op: 'identify', seconds: d[2] });
    case Opcode.setPowerLimit:
      return ok({ op: 'setPowerLimit', watts: d.readUInt16LE(2) });
    case Opcode.setPowerOnState: {
      const state = nameOf(PowerOnState, d[2]);
      return state ? ok({ op: 'setPowerOnState', state }) : malformed(`power-on state ${d[2]} is not 0, 1 or 2`);
    }
  }
  return malformed(`command opcode 0x${d[0].toString(16)} is not defined`);
}

/** Checks a command's arguments against the ranges of the protocol; returns the problem or undefined. */
export function validateCommand(command: Command): string | undefined {
  const inRange = (name: string, v: number, lo: number, hi: number) =>
    Number.isInteger(v) && v >= lo && v <= hi ? undefined : `${name} must be an integer from ${lo} to ${hi}, got ${v}`;
  switch (command.op) {
    case 'setHumidityLimit':
      return (
        inRange('humidity limit', command.limit, 1, 100) ?? inRange('hysteresis', command.hysteresis, 0, command.limit - 1) // at or over the limit the latch never re-arms
      );
    case 'setReportPeriod':
      return inRange('report period', command.ms, 100, 60000);
    case 'identify':
      return inRange('identify seconds', command.seconds, 0, 255);
    case 'setPowerLimit':
      return inRange('power limit', command.watts, 0, 65535);
    default:
      return undefined;
  }
}

export function opcodeOf(command: Command): number {
  return Opcode[command.op];
}

export function encodeCommand(node: number, token: number, command: Command): CanFrame {
  const d = Buffer.alloc(8);
  d[0] = opcodeOf(command);
  d[1] = token & 0xff;
  switch (command.op) {
    case 'setRelay':
      d[2] = RelayAction[command.action];
      break;
    case 'setHumidityLimit':
      d[2] = command.limit;
      d[3] = command.hysteresis;
      break;
    case 'setReportPeriod':
      d.writeUInt16LE(command.ms, 2);
      break;
    case 'identify':
      d[2] = command.seconds;
      break;
    case 'setPowerLimit':
      d.writeUInt16LE(command.watts, 2);
      break;
    case 'setPowerOnState':
      d[2] = PowerOnState[command.state];
      break;
  }
  return { id: CobBase.command + node, data: d };
}

const u16 = (v: number) => Math.min(0xffff, Math.max(0, Math.round(v)));
const i16 = (v: number) => Math.min(0x7fff, Math.max(-0x8000, Math.round(v)));
const u32 = (v: number) => Math.min(0xffffffff, Math.max(0, Math.round(v))) >>> 0;

/** Encodes any message; used by the simulated sockets, the CLI and the tests. */
export function encode(message: Message): CanFrame {
  const d = Buffer.alloc(8);
  switch (message.type) {
    case 'discovery':
      return { id: CobBase.discovery, data: Buffer.from([0x01, message.target]) };
    case 'command':
      return encodeCommand(message.node, message.token, message.command);
    case 'event':
      d[0] = message.code;
      d[1] = message.flags;
      d.writeUInt16LE(u16(message.value), 2);
      d.writeUInt32LE(u32(message.uptime), 4);
      return { id: CobBase.event + message.node, data: d };
    case 'power':
      d.writeUInt16LE(u16(message.voltage * 10), 0);
      d.writeUInt16LE(u16(message.current * 1000), 2);
      d.writeUInt16LE(u16(message.power * 10), 4);
      d[6] = encodeStatus(message.status);
      d[7] = message.seq & 0xff;
      return { id: CobBase.power + message.node, data: d };
    case 'environment':
      d.writeUInt16LE(u16(message.humidity * 10), 0);
      d.writeInt16LE(i16(message.temperature * 10), 2);
      d[4] = message.humidityLimit;
      d[5] = message.hysteresis;
      d[6] = encodeStatus(message.status);
      d[7] = message.seq & 0xff;
      return { id: CobBase.environment + message.node, data: d };
    case 'energy':
      d.writeUInt32LE(u32(message.energyWh), 0);
      d.writeUInt32LE(u32(message.uptime), 4);
      return { id: CobBase.energy + message.node, data: d };
    case 'reply':
      d[0] = message.opcode;
      d[1] = message.token;
      d[2] = ReplyResult[message.result];
      d[3] = encodeStatus(message.status);
      d.writeUInt32LE(u32(message.detail), 4);
      return { id: CobBase.reply + message.node, data: d };
    case 'transfer':
      return {
        id: (message.direction === 'toNode' ? CobBase.transferToNode : CobBase.transferToGateway) + message.node,
        data: encodePdu(message.pdu),
      };
    case 'heartbeat': {
      const [major, minor] = message.firmware.split('.').map(Number);
      d[0] = NodeState[message.state];
      d[1] = message.protocol;
      d.writeUInt16LE(((major & 0xff) << 8) | (minor & 0xff), 2);
      d.writeUInt32LE(u32(message.uptime), 4);
      return { id: CobBase.heartbeat + message.node, data: d };
    }
  }
}
