/**
 * Kernel receive filters (SocketCAN CAN_RAW_FILTER) for the ids the gateway handles.
 * A frame reaches the process when (frameId & mask) === (id & mask) for any filter; everything
 * else is dropped by the kernel before the process wakes up, which matters on a busy shared bus.
 * Pure data and arithmetic: importing this never loads the native addon.
 */
import { CobBase, MAX_NODE_ID } from './codec.js';

/** One 11-bit id/mask pair, for classic data frames (the transport adds the EFF/RTR bits). */
export interface CanFilter {
  id: number;
  mask: number;
}

const SFF_MASK = 0x7ff;

/**
 * The fewest id/mask pairs that match exactly the ids lo..hi (inclusive): aligned power-of-two
 * blocks, as a CIDR range is split into prefixes. Exact sets keep node 0 and nodes 64..127
 * (not valid in protocol v1) out of the process instead of waking it for frames it would refuse.
 */
export function rangeFilters(lo: number, hi: number): CanFilter[] {
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > SFF_MASK || lo > hi) {
    throw new RangeError(`id range 0x${lo.toString(16)}..0x${hi.toString(16)} is not within 0x000..0x7ff`);
  }
  const filters: CanFilter[] = [];
  let id = lo;
  while (id <= hi) {
    let size = 1;
    // Grow the block while it stays aligned at `id` and inside the range.
    while (size < 0x800 && id % (size * 2) === 0 && id + size * 2 - 1 <= hi) size *= 2;
    filters.push({ id, mask: SFF_MASK & ~(size - 1) });
    id += size;
  }
  return filters;
}

/** Every protocol v1 node -> gateway id: event, power, environment, energy, reply, heartbeat and firmware transfer of nodes 1..63. */
export const V1_NODE_TO_GATEWAY_FILTERS: readonly CanFilter[] = Object.freeze(
  [CobBase.event, CobBase.power, CobBase.environment, CobBase.energy, CobBase.reply, CobBase.heartbeat, CobBase.transferToGateway].flatMap(
    (base) => rangeFilters(base + 1, base + MAX_NODE_ID),
  ),
);

/** The legacy seed socket's readings: 0x001 voltage, 0x002 current, 0x003 power, 0x004 humidity. */
export const SEED_FILTERS: readonly CanFilter[] = Object.freeze(rangeFilters(0x001, 0x004));

/**
 * What the safety worker reads (protocol v1): power and environment reports, and the commands other
 * senders put on the bus (a close for a latched socket is answered with an open).
 */
export const V1_SAFETY_FILTERS: readonly CanFilter[] = Object.freeze(
  [CobBase.power, CobBase.environment, CobBase.command].flatMap((base) => rangeFilters(base + 1, base + MAX_NODE_ID)),
);

export function filtersForProtocol(protocol: 'v1' | 'seed', role: 'gateway' | 'safety' = 'gateway'): readonly CanFilter[] {
  if (protocol === 'seed') return SEED_FILTERS;
  return role === 'safety' ? V1_SAFETY_FILTERS : V1_NODE_TO_GATEWAY_FILTERS;
}

/** What the kernel decides for an 11-bit data frame; used by tests and by the simulated bus. */
export function matchesFilters(id: number, filters: readonly CanFilter[]): boolean {
  return filters.some((f) => (id & f.mask) === (f.id & f.mask));
}
