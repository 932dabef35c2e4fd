import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inWindow, minuteKey, scheduleDue } from '../../src/gateway/rules-time.js';

// Local times: 2026-11-20 is a Friday.
const at = (day: number, hh: number, mm: number) => new Date(2026, 10, day, hh, mm, 30);

test('a window within one day: from inclusive, to exclusive', () => {
  const w = { from: '08:00', to: '17:30' };
  assert.equal(inWindow(w, null, at(20, 7, 59)), false);
  assert.equal(inWindow(w, null, at(20, 8, 0)), true);
  assert.equal(inWindow(w, null, at(20, 17, 29)), true);
  assert.equal(inWindow(w, null, at(20, 17, 30)), false);
});

test('a window past midnight belongs to the day it starts', () => {
  const w = { from: '22:00', to: '06:00' };
  assert.equal(inWindow(w, null, at(20, 21, 59)), false);
  assert.equal(inWindow(w, null, at(20, 22, 0)), true);
  assert.equal(inWindow(w, null, at(21, 3, 0)), true);
  assert.equal(inWindow(w, null, at(21, 6, 0)), false);
  // Friday night's window: Friday 23:00 and Saturday 03:00 are in, Friday 03:00 (Thursday's window) is not.
  assert.equal(inWindow(w, ['fri'], at(20, 23, 0)), true);
  assert.equal(inWindow(w, ['fri'], at(21, 3, 0)), true);
  assert.equal(inWindow(w, ['fri'], at(20, 3, 0)), false);
});

test('days alone, and no condition at all', () => {
  assert.equal(inWindow(null, ['fri'], at(20, 12, 0)), true);
  assert.equal(inWindow(null, ['sat', 'sun'], at(20, 12, 0)), false);
  assert.equal(inWindow(null, null, at(20, 12, 0)), true);
});

test('a schedule is due in its minute on its days', () => {
  assert.equal(scheduleDue('07:00', null, at(20, 7, 0)), true);
  assert.equal(scheduleDue('07:00', null, at(20, 7, 1)), false);
  assert.equal(scheduleDue('07:00', null, at(20, 6, 59)), false);
  assert.equal(scheduleDue('07:00', ['mon', 'tue'], at(20, 7, 0)), false);
  assert.equal(scheduleDue('07:00', ['fri'], at(20, 7, 0)), true);
  assert.equal(minuteKey(at(20, 7, 5)), '2026-11-20 07:05');
});
