import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { freeName, MAX_NAME_LENGTH, nameFormatProblem } from '../../src/gateway/device-names.js';

const validName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9 _.-]{0,63}$/);

test('any collision at any length resolves to a free, valid name within taken + 1 candidates', () => {
  fc.assert(
    fc.property(validName, fc.integer({ min: 0, max: 300 }), fc.array(validName, { maxLength: 20 }), (name, suffixes, others) => {
      // The worst case: the name and a run of its own suffixed forms are taken, plus unrelated names.
      const taken = new Set([name, ...others]);
      for (let i = 2; i < suffixes + 2; i++) {
        const free = freeName(name, taken);
        assert.ok(free !== undefined);
        taken.add(free);
      }
      const free = freeName(name, taken)!;
      assert.equal(nameFormatProblem(free), undefined, free);
      assert.ok(free.length <= MAX_NAME_LENGTH);
      assert.ok(!taken.has(free));
    }),
    { numRuns: 200 },
  );
});

test('a name of 64 characters gets a suffix within the limit', () => {
  const name = 'k'.repeat(64);
  const taken = new Set([name]);
  assert.equal(freeName(name, taken), `${'k'.repeat(62)}-2`);
  taken.add(`${'k'.repeat(62)}-2`);
  assert.equal(freeName(name, taken), `${'k'.repeat(62)}-3`);
  for (let i = 3; i < 10; i++) taken.add(`${'k'.repeat(62)}-${i}`);
  assert.equal(freeName(name, taken), `${'k'.repeat(61)}-10`);
});

test('a name that can never be valid gives up after a bounded number of candidates', () => {
  assert.equal(freeName('-x', new Set()), undefined);
});
