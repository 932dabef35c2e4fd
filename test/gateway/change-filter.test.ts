import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChangeFilter } from '../../src/gateway/change-filter.js';

const policy = { deadbands: { power: { absolute: 2, relative: 0.05 }, humidity: { absolute: 1 } }, maxIntervalMs: 60_000 };

test('a value passes when it moves beyond its deadband, measured from the last value that passed', () => {
  const f = new ChangeFilter<string>(policy);
  assert.equal(f.admit('a', { power: 100 }, 0), true, 'the first sample always passes');
  assert.equal(f.admit('a', { power: 104 }, 1000), false, '4 W is within 5 % of 100 W');
  assert.equal(f.admit('a', { power: 104.9 }, 2000), false);
  assert.equal(f.admit('a', { power: 106 }, 3000), true, '6 W is beyond 5 % of 100 W');
  // Slow drift is not lost: it is compared with the last value that passed, not the last one seen.
  for (let i = 1; i <= 4; i++) f.admit('a', { power: 106 + i }, 3000 + i);
  assert.equal(f.admit('a', { power: 112 }, 4000), true, '6 W above the 106 W that passed');
  assert.equal(f.admit('a', { power: 1 }, 5000), true);
  assert.equal(f.admit('a', { power: 2.5 }, 6000), false, 'the absolute floor (2 W) holds near zero');
});

test('a quantity without a deadband passes on any change; an unchanged sample passes once the interval is due', () => {
  const f = new ChangeFilter<string>(policy);
  f.admit('a', { voltage: 230, humidity: 50 }, 0);
  assert.equal(f.admit('a', { voltage: 230, humidity: 50.5 }, 10), false);
  assert.equal(f.admit('a', { voltage: 230.1 }, 20), true);
  assert.equal(f.admit('a', { voltage: 230.1 }, 59_999), false);
  assert.equal(f.admit('a', { voltage: 230.1 }, 60_020), true, 'due 60 s after the last pass');
  assert.equal(f.admit('a', { voltage: 230.1 }, 50_000), true, 'a clock that went backwards counts as due');
});

test('keys are independent; a forgotten key passes at once; a quantity first seen passes', () => {
  const f = new ChangeFilter<number>({ deadbands: {}, maxIntervalMs: 0 });
  assert.equal(f.admit(1, { power: 5 }, 0), true);
  assert.equal(f.admit(2, { power: 5 }, 0), true);
  assert.equal(f.admit(1, { power: 5 }, 10_000_000), false, 'maxIntervalMs 0: only on change');
  assert.equal(f.admit(1, { power: 5, humidity: 40 }, 1), true, 'humidity was never passed for this key');
  f.forget(1);
  assert.equal(f.admit(1, { power: 5 }, 2), true);
});

test('property: whatever the input, every passed value is within its deadband of the true value at all times between passes', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: -5000, max: 5000, noNaN: true }), { minLength: 1, maxLength: 200 }), (values) => {
      const f = new ChangeFilter<string>({ deadbands: { power: { absolute: 2, relative: 0.05 } }, maxIntervalMs: 0 });
      let reference: number | undefined;
      values.forEach((v, i) => {
        if (f.admit('k', { power: v }, i)) reference = v;
        const threshold = Math.max(2, 0.05 * Math.abs(reference!));
        assert.ok(Math.abs(v - reference!) <= threshold, `value ${v} is ${Math.abs(v - reference!)} from the reported ${reference}`);
      });
    }),
  );
});

test('a sample recorded for another reason becomes the reference and restarts the interval', () => {
  const f = new ChangeFilter<string>(policy);
  f.admit('a', { power: 100 }, 0);
  f.record('a', { power: 104 }, 30_000);
  assert.equal(f.admit('a', { power: 109 }, 31_000), false, '5 W from the recorded 104 W is within 5 %');
  assert.equal(f.admit('a', { power: 104 }, 89_999), false, 'the interval counts from the recording');
  assert.equal(f.admit('a', { power: 104 }, 90_000), true);
});
