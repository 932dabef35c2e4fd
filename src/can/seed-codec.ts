/**
 * Legacy profile "seed": the original 2021 socket and its Raspberry Pi app (docs/protocol.md).
 * One socket per bus and no addressing; readings are text-like "<b6>.<b7>" values.
 */
import type { CanFrame } from './frame.js';

/** The node id the gateway gives the single legacy socket. */
export const SEED_NODE = 1;
export const SEED_COMMAND_ID = 0x001;

export type SeedQuantity = 'voltage' | 'current' | 'power' | 'humidity';

export interface SeedReading {
  type: 'seed';
  quantity: SeedQuantity;
  value: number;
}

export type SeedDecodeResult = { ok: true; message: SeedReading } | { ok: false; reason: 'unknown' | 'malformed'; detail: string };

// biome-ignore lint/complexity/useSimpleNumberKeys: CAN ids in hex, as the seed project's frames list them
const QUANTITY_BY_ID: Record<number, SeedQuantity> = { 0x001: 'voltage', 0x002: 'current', 0x003: 'power', 0x004: 'humidity' };

export function decodeSeed(frame: CanFrame): SeedDecodeResult {
  if (frame.err) return { ok: false, reason: 'malformed', detail: 'error frame' };
  const quantity = frame.ext || frame.rtr ? undefined : QUANTITY_BY_ID[frame.id];
  if (!quantity) return { ok: false, reason: 'unknown', detail: `id 0x${frame.id.toString(16)} is not a seed id` };
  if (frame.data.length !== 8) {
    return { ok: false, reason: 'malformed', detail: `seed id 0x${frame.id.toString(16)}: DLC ${frame.data.length}, expected 8` };
  }
  const d = frame.data;
  // The original app printed bytes 6 and 7 as integers joined by a dot: [.., 230, 5] is 230.5.
  const value = quantity === 'humidity' ? d[7] : Number(`${d[6]}.${d[7]}`);
  return { ok: true, message: { type: 'seed', quantity, value } };
}

/** The original firmware compares the whole frame: 01 00.. closes, 00 00.. opens. */
export function encodeSeedRelay(on: boolean): CanFrame {
  const data = Buffer.alloc(8);
  data[0] = on ? 1 : 0;
  return { id: SEED_COMMAND_ID, data };
}

/** Encodes a reading the way the original socket sent it (used by the seed simulator and tests). */
export function encodeSeed(reading: SeedReading): CanFrame {
  const id = Number(Object.entries(QUANTITY_BY_ID).find(([, q]) => q === reading.quantity)![0]);
  const data = Buffer.alloc(8);
  if (reading.quantity === 'humidity') {
    data[7] = Math.min(255, Math.max(0, Math.round(reading.value)));
  } else {
    const whole = Math.min(255, Math.max(0, Math.trunc(reading.value)));
    data[6] = whole;
    data[7] = Math.min(9, Math.max(0, Math.round((reading.value - whole) * 10)));
  }
  return { id, data };
}
