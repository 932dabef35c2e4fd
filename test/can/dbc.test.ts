import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateDbc } from '../../src/can/dbc.js';
import { parseFrame } from '../../src/can/frame.js';
import type { Message } from '../../src/can/codec.js';

const dbcText = readFileSync(new URL('../../firmware/canplug.dbc', import.meta.url), 'utf8');

test('firmware/canplug.dbc is generated from the current protocol constants (run npm run dbc)', () => {
  assert.equal(dbcText, generateDbc());
});

/** A small independent DBC reader: enough to decode little-endian signals the way cantools does. */
function parseDbc(text: string) {
  const messages = new Map<
    number,
    { name: string; dlc: number; signals: { name: string; start: number; length: number; signed: boolean; factor: number; mux?: string }[] }
  >();
  let current: ReturnType<typeof messages.get>;
  for (const line of text.split('\n')) {
    const bo = /^BO_ (\d+) (\w+): (\d+) /.exec(line);
    if (bo) {
      current = { name: bo[2], dlc: Number(bo[3]), signals: [] };
      messages.set(Number(bo[1]), current);
      continue;
    }
    const sg = /^ SG_ (\w+)(?: (M|m\d+))? : (\d+)\|(\d+)@1([+-]) \(([\d.e-]+),0\)/.exec(line);
    if (sg && current) {
      current.signals.push({
        name: sg[1],
        mux: sg[2],
        start: Number(sg[3]),
        length: Number(sg[4]),
        signed: sg[5] === '-',
        factor: Number(sg[6]),
      });
    }
  }
  return messages;
}

function decodeWithDbc(messages: ReturnType<typeof parseDbc>, id: number, data: Buffer): Record<string, number> {
  const def = messages.get(id);
  assert.ok(def, `id 0x${id.toString(16)} in the DBC`);
  assert.equal(def.dlc, data.length);
  const raw = data.length === 8 ? data.readBigUInt64LE(0) : BigInt(data.readUInt16LE(0));
  const out: Record<string, number> = {};
  const muxSignal = def.signals.find((s) => s.mux === 'M');
  const get = (s: { start: number; length: number; signed: boolean; factor: number }) => {
    let v = Number((raw >> BigInt(s.start)) & ((1n << BigInt(s.length)) - 1n));
    if (s.signed && v >= 2 ** (s.length - 1)) v -= 2 ** s.length;
    return Math.round(v * s.factor * 1e6) / 1e6;
  };
  const muxValue = muxSignal ? get(muxSignal) : undefined;
  for (const s of def.signals) {
    if (s.mux?.startsWith('m') && Number(s.mux.slice(1)) !== muxValue) continue;
    out[s.name] = get(s);
  }
  return out;
}

const vectors: { v1: { valid: { name: string; frame: string; message: Message }[] } } = JSON.parse(
  readFileSync(new URL('../../firmware/test-vectors.json', import.meta.url), 'utf8'),
);

test('the DBC decodes every test vector to the same values as the codec', () => {
  const dbc = parseDbc(dbcText);
  for (const v of vectors.v1.valid) {
    const frame = parseFrame(v.frame);
    const s = decodeWithDbc(dbc, frame.id, frame.data);
    const m = v.message;
    switch (m.type) {
      case 'power':
        assert.deepEqual(
          [s.Voltage, s.Current, s.Power, s.RelayClosed, s.PowerLatched, s.Seq],
          [m.voltage, m.current, m.power, +m.status.relay, +m.status.powerLatched, m.seq],
          v.name,
        );
        break;
      case 'environment':
        assert.deepEqual(
          [s.Humidity, s.Temperature, s.NodeHumidityLimit, s.HumidityLatched, s.SensorFault],
          [m.humidity, m.temperature, m.humidityLimit, +m.status.humidityLatched, +m.status.sensorFault],
          v.name,
        );
        break;
      case 'energy':
        assert.deepEqual([s.EnergyWh, s.Uptime], [m.energyWh, m.uptime], v.name);
        break;
      case 'heartbeat':
        assert.equal(`${s.FirmwareMajor}.${s.FirmwareMinor}`, m.firmware, v.name);
        assert.equal(s.Uptime, m.uptime, v.name);
        break;
      case 'event':
        assert.deepEqual([s.EventCode, s.EventValue, s.Uptime], [m.code, m.value, m.uptime], v.name);
        break;
      case 'reply':
        assert.deepEqual(
          [s.ReplyOpcode, s.Token, s.RelayClosed, s.HumidityLatched],
          [m.opcode, m.token, +m.status.relay, +m.status.humidityLatched],
          v.name,
        );
        break;
      case 'command':
        assert.equal(s.Token, m.token, v.name);
        if (m.command.op === 'setHumidityLimit') assert.deepEqual([s.HumidityLimit, s.Hysteresis], [m.command.limit, m.command.hysteresis]);
        if (m.command.op === 'setReportPeriod') assert.equal(s.ReportPeriod, m.command.ms);
        if (m.command.op === 'setPowerLimit') assert.equal(s.PowerLimit, m.command.watts);
        if (m.command.op === 'setHumidityLimit')
          assert.equal(s.PowerLimit, undefined, 'multiplexed signals of other opcodes are not decoded');
        break;
      case 'discovery':
        assert.equal(s.TargetNode, m.target, v.name);
        break;
      case 'transfer': {
        const kinds = ['single', 'first', 'consecutive', 'flow'];
        assert.equal(kinds[s.FrameType], m.pdu.kind, v.name);
        if (m.pdu.kind === 'single') assert.equal(s.SingleLength * 2, m.pdu.data.length, v.name);
        if (m.pdu.kind === 'first' && m.pdu.length <= 4095) assert.equal(s.FirstLengthHigh * 256 + s.FirstLengthLow, m.pdu.length, v.name);
        if (m.pdu.kind === 'consecutive') assert.equal(s.SequenceNumber, m.pdu.seq, v.name);
        if (m.pdu.kind === 'flow') assert.deepEqual([s.BlockSize, s.STmin], [m.pdu.blockSize, m.pdu.stMin], v.name);
        break;
      }
    }
  }
});
