/**
 * Generates firmware/canplug.dbc (for SavvyCAN, cantools, Wireshark) from the protocol constants,
 * so the DBC cannot drift from the codec. `npm run dbc` rewrites the file; a test checks it is current.
 */
import { CobBase, EventCode, MAX_NODE_ID, NodeState, Opcode, PowerOnState, RelayAction, ReplyResult } from './codec.js';
import { FlowStatus } from './isotp.js';

interface Signal {
  name: string;
  start: number;
  length: number;
  signed?: boolean;
  factor?: number;
  unit?: string;
  /** 'M' for the multiplexor, a number for a multiplexed signal. */
  mux?: 'M' | number;
  values?: Record<number, string>;
  comment?: string;
}

interface MessageDef {
  base: number;
  name: string;
  dlc: number;
  sender: 'node' | 'gateway';
  signals: Signal[];
  comment: string;
}

const statusSignals = (byte: number): Signal[] => [
  { name: 'RelayClosed', start: byte * 8, length: 1 },
  { name: 'HumidityLatched', start: byte * 8 + 1, length: 1 },
  { name: 'PowerLatched', start: byte * 8 + 2, length: 1, comment: 'over-power or over-current latch' },
  { name: 'SensorFault', start: byte * 8 + 3, length: 1 },
];

const invert = (table: Record<string, number>): Record<number, string> => Object.fromEntries(Object.entries(table).map(([k, v]) => [v, k]));

export const DBC_MESSAGES: MessageDef[] = [
  {
    base: CobBase.event,
    name: 'Event',
    dlc: 8,
    sender: 'node',
    comment: 'A trip, re-arm, sensor fault or reboot; Value unit depends on EventCode',
    signals: [
      { name: 'EventCode', start: 0, length: 8, values: invert(EventCode) },
      { name: 'EventFlags', start: 8, length: 8 },
      {
        name: 'EventValue',
        start: 16,
        length: 16,
        comment: '0.1 %RH for humidity, mA for over-current, 0.1 W for over-power, reset cause for reboot',
      },
      { name: 'Uptime', start: 32, length: 32, unit: 's' },
    ],
  },
  {
    base: CobBase.power,
    name: 'Power',
    dlc: 8,
    sender: 'node',
    comment: 'Periodic electrical readings',
    signals: [
      { name: 'Voltage', start: 0, length: 16, factor: 0.1, unit: 'V' },
      { name: 'Current', start: 16, length: 16, factor: 0.001, unit: 'A' },
      { name: 'Power', start: 32, length: 16, factor: 0.1, unit: 'W' },
      ...statusSignals(6),
      { name: 'Seq', start: 56, length: 8, comment: 'wraps at 255; a gap means lost frames' },
    ],
  },
  {
    base: CobBase.command,
    name: 'Command',
    dlc: 8,
    sender: 'gateway',
    comment: 'Gateway to node; Token is echoed in the reply',
    signals: [
      { name: 'Opcode', start: 0, length: 8, mux: 'M', values: invert(Opcode) },
      { name: 'Token', start: 8, length: 8 },
      { name: 'RelayAction', start: 16, length: 8, mux: Opcode.setRelay, values: invert(RelayAction) },
      { name: 'HumidityLimit', start: 16, length: 8, mux: Opcode.setHumidityLimit, unit: '%RH' },
      { name: 'Hysteresis', start: 24, length: 8, mux: Opcode.setHumidityLimit, unit: '%RH' },
      { name: 'ReportPeriod', start: 16, length: 16, mux: Opcode.setReportPeriod, unit: 'ms' },
      { name: 'IdentifySeconds', start: 16, length: 8, mux: Opcode.identify, unit: 's' },
      { name: 'PowerLimit', start: 16, length: 16, mux: Opcode.setPowerLimit, unit: 'W', comment: '0 = no limit' },
      { name: 'PowerOnState', start: 16, length: 8, mux: Opcode.setPowerOnState, values: invert(PowerOnState) },
    ],
  },
  {
    base: CobBase.environment,
    name: 'Environment',
    dlc: 8,
    sender: 'node',
    comment: "Periodic humidity and temperature, with the node's own limit",
    signals: [
      { name: 'Humidity', start: 0, length: 16, factor: 0.1, unit: '%RH' },
      { name: 'Temperature', start: 16, length: 16, signed: true, factor: 0.1, unit: 'degC' },
      { name: 'NodeHumidityLimit', start: 32, length: 8, unit: '%RH' },
      { name: 'NodeHysteresis', start: 40, length: 8, unit: '%RH' },
      ...statusSignals(6),
      { name: 'Seq', start: 56, length: 8 },
    ],
  },
  {
    base: CobBase.energy,
    name: 'Energy',
    dlc: 8,
    sender: 'node',
    comment: 'Energy counter persisted on the node (restarts at 0 after a flash reset)',
    signals: [
      { name: 'EnergyWh', start: 0, length: 32, unit: 'Wh' },
      { name: 'Uptime', start: 32, length: 32, unit: 's' },
    ],
  },
  {
    base: CobBase.reply,
    name: 'Reply',
    dlc: 8,
    sender: 'node',
    comment: 'Answer to a command',
    signals: [
      { name: 'ReplyOpcode', start: 0, length: 8, values: invert(Opcode) },
      { name: 'Token', start: 8, length: 8 },
      { name: 'Result', start: 16, length: 8, values: invert(ReplyResult) },
      ...statusSignals(3),
      { name: 'Detail', start: 32, length: 32 },
    ],
  },
  {
    base: CobBase.heartbeat,
    name: 'Heartbeat',
    dlc: 8,
    sender: 'node',
    comment: 'Every second; availability comes from these',
    signals: [
      { name: 'State', start: 0, length: 8, values: invert(NodeState) },
      { name: 'ProtocolVersion', start: 8, length: 8 },
      { name: 'FirmwareMinor', start: 16, length: 8 },
      { name: 'FirmwareMajor', start: 24, length: 8 },
      { name: 'Uptime', start: 32, length: 32, unit: 's' },
    ],
  },
];

/** ISO-TP frames (src/can/isotp.ts): the frame type in the high nibble of byte 0 multiplexes the rest. */
const transferSignals = (): Signal[] => [
  { name: 'FrameType', start: 4, length: 4, mux: 'M', values: { 0: 'single', 1: 'first', 2: 'consecutive', 3: 'flow control' } },
  { name: 'SingleLength', start: 0, length: 4, mux: 0, unit: 'B' },
  {
    name: 'FirstLengthHigh',
    start: 0,
    length: 4,
    mux: 1,
    comment: 'length = FirstLengthHigh * 256 + FirstLengthLow; 0 and 0: a 32-bit big-endian length follows',
  },
  { name: 'FirstLengthLow', start: 8, length: 8, mux: 1 },
  { name: 'SequenceNumber', start: 0, length: 4, mux: 2, comment: '1, 2, .. 15, 0, 1, ..' },
  { name: 'FlowStatus', start: 0, length: 4, mux: 3, values: invert(FlowStatus) },
  { name: 'BlockSize', start: 8, length: 8, mux: 3, comment: 'consecutive frames before the next flow control; 0 = all' },
  { name: 'STmin', start: 16, length: 8, mux: 3, comment: '0x00-0x7F ms, 0xF1-0xF9 100-900 us' },
];

DBC_MESSAGES.push(
  {
    base: CobBase.transferToNode,
    name: 'TransferToNode',
    dlc: 8,
    sender: 'gateway',
    comment: 'Firmware transfer, ISO 15765-2 frames gateway to node (requests, consecutive frames); padded with 0xCC',
    signals: transferSignals(),
  },
  {
    base: CobBase.transferToGateway,
    name: 'TransferToGateway',
    dlc: 8,
    sender: 'node',
    comment: 'Firmware transfer, ISO 15765-2 frames node to gateway (flow control, answers as single frames)',
    signals: transferSignals(),
  },
);

const DISCOVERY: MessageDef = {
  base: CobBase.discovery,
  name: 'Discovery',
  dlc: 2,
  sender: 'gateway',
  comment: 'Gateway asks nodes to announce themselves with a heartbeat',
  signals: [
    { name: 'Request', start: 0, length: 8, values: { 1: 'announce' } },
    { name: 'TargetNode', start: 8, length: 8, comment: '0 = all nodes' },
  ],
};

const nodeName = (n: number) => `Node${String(n).padStart(2, '0')}`;

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(12)));
}

function signalLine(s: Signal, receiver: string): string {
  const factor = s.factor ?? 1;
  const raw = s.signed ? [-(2 ** (s.length - 1)), 2 ** (s.length - 1) - 1] : [0, 2 ** s.length - 1];
  const mux = s.mux === undefined ? '' : s.mux === 'M' ? ' M' : ` m${s.mux}`;
  return ` SG_ ${s.name}${mux} : ${s.start}|${s.length}@1${s.signed ? '-' : '+'} (${fmt(factor)},0) [${fmt(raw[0] * factor)}|${fmt(raw[1] * factor)}] "${s.unit ?? ''}" ${receiver}`;
}

export function generateDbc(): string {
  const nodes = Array.from({ length: MAX_NODE_ID }, (_, i) => i + 1);
  const lines: string[] = [
    'VERSION "canplug protocol v1"',
    '',
    'NS_ :',
    '\tCM_',
    '\tVAL_',
    '',
    'BS_:',
    '',
    `BU_: Gateway ${nodes.map(nodeName).join(' ')}`,
    '',
  ];
  const comments: string[] = [];
  const values: string[] = [];
  const emit = (def: MessageDef, id: number, suffix: string, node?: number) => {
    const sender = def.sender === 'gateway' ? 'Gateway' : nodeName(node!);
    const receiver = def.sender === 'gateway' ? (node ? nodeName(node) : nodes.map(nodeName).join(',')) : 'Gateway';
    lines.push(`BO_ ${id} ${def.name}${suffix}: ${def.dlc} ${sender}`);
    for (const s of def.signals) {
      lines.push(signalLine(s, receiver));
      if (s.comment) comments.push(`CM_ SG_ ${id} ${s.name} "${s.comment}";`);
      if (s.values)
        values.push(
          `VAL_ ${id} ${s.name} ${Object.entries(s.values)
            .map(([v, n]) => `${v} "${n}"`)
            .join(' ')} ;`,
        );
    }
    lines.push('');
    comments.push(`CM_ BO_ ${id} "${def.comment}";`);
  };
  emit(DISCOVERY, CobBase.discovery, '');
  for (const def of DBC_MESSAGES) for (const node of nodes) emit(def, def.base + node, `_${nodeName(node)}`, node);
  lines.push(
    'CM_ "canplug protocol v1: COB-ID = function base + node id (1..63), little-endian. Generated by src/can/dbc.ts; see docs/protocol.md.";',
  );
  return [...lines, ...comments, ...values, ''].join('\n');
}
