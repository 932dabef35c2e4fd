import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CobBase, splitId } from '../../src/can/codec.js';
import { SEED_FILTERS, V1_NODE_TO_GATEWAY_FILTERS, filtersForProtocol, matchesFilters, rangeFilters } from '../../src/can/filters.js';

const NODE_TO_GATEWAY = new Set<number>([
  CobBase.event,
  CobBase.power,
  CobBase.environment,
  CobBase.energy,
  CobBase.reply,
  CobBase.heartbeat,
  CobBase.transferToGateway,
]);

test('v1 filters pass exactly the node -> gateway ids of nodes 1..63, over all 2048 ids', () => {
  const passed: number[] = [];
  for (let id = 0; id < 0x800; id++) {
    const parts = splitId(id);
    const wanted = parts !== undefined && parts.node >= 1 && NODE_TO_GATEWAY.has(parts.base);
    assert.equal(matchesFilters(id, V1_NODE_TO_GATEWAY_FILTERS), wanted, `id 0x${id.toString(16)}`);
    if (wanted) passed.push(id);
  }
  assert.equal(passed.length, 7 * 63);
  // 1, 2-3, 4-7, 8-15, 16-31, 32-63 per function code: the kernel walks 42 filters, not 441 ids.
  assert.equal(V1_NODE_TO_GATEWAY_FILTERS.length, 42);
});

test('seed filters pass exactly 0x001..0x004', () => {
  const passed = [...Array(0x800).keys()].filter((id) => matchesFilters(id, SEED_FILTERS));
  assert.deepEqual(passed, [1, 2, 3, 4]);
  assert.equal(filtersForProtocol('seed'), SEED_FILTERS);
  assert.equal(filtersForProtocol('v1'), V1_NODE_TO_GATEWAY_FILTERS);
});

test('rangeFilters covers any range exactly and refuses ids beyond 11 bits', () => {
  for (const [lo, hi] of [
    [0, 0x7ff],
    [0x123, 0x456],
    [5, 5],
    [0x700, 0x7ff],
  ]) {
    for (let id = 0; id < 0x800; id++) assert.equal(matchesFilters(id, rangeFilters(lo, hi)), id >= lo && id <= hi);
  }
  assert.deepEqual(rangeFilters(0, 0x7ff), [{ id: 0, mask: 0 }]);
  assert.throws(() => rangeFilters(0, 0x800), /0x800/);
});
