import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../../src/gateway/events.js';
import type { LogEvent } from '../../src/gateway/events.js';
import { memoryLogger } from '../helpers/gateway.js';

const entry = (cause: string): LogEvent => ({ ts: Date.now(), type: 'rule', cause });

test('a listener that throws neither skips the listeners after it nor reaches the emitter; it is logged once with its owner and counted', async () => {
  const { log, lines } = memoryLogger('debug');
  const bus = new EventBus(log);
  const heard: string[] = [];
  bus.subscribe('broken-sink', {
    log: () => {
      throw new Error('disk on fire');
    },
  });
  bus.subscribe('async-sink', { log: async () => Promise.reject(new Error('later')) });
  bus.subscribe('storage', { log: (e) => void heard.push(e.cause!) });

  assert.doesNotThrow(() => bus.emit('log', entry('first')));
  bus.emit('log', entry('second'));
  await new Promise((r) => setImmediate(r));

  assert.deepEqual(heard, ['first', 'second'], 'the listener after the broken ones heard every event');
  assert.equal(bus.failures, 4, 'two listeners failed twice each');
  const errors = lines().filter((l) => l.level === 50);
  assert.deepEqual(
    errors.map((l) => `${l.owner} ${l.event} ${l.err}`),
    ['broken-sink log disk on fire', 'async-sink log later'],
    'each owner and event is logged at error once; the repeats go to debug',
  );
  assert.equal(lines().filter((l) => l.level === 20 && l.owner === 'broken-sink').length, 1);
});

test("an owner's unsubscribe removes its listeners, and only its own", () => {
  const bus = new EventBus(memoryLogger().log);
  const heard: string[] = [];
  const stopA = bus.subscribe('a', { log: () => void heard.push('a'), reading: () => void heard.push('a reading') });
  bus.subscribe('b', { log: () => void heard.push('b') });
  stopA();
  bus.emit('log', entry('x'));
  assert.deepEqual(heard, ['b']);
  assert.equal(bus.listenerCount('reading'), 0);
});

test('a listener added or removed while an event is delivered changes the next delivery, not this one', () => {
  const bus = new EventBus(memoryLogger().log);
  const heard: string[] = [];
  const stopFirst = bus.subscribe('first', {
    log: () => {
      heard.push('first');
      bus.subscribe('late', { log: () => void heard.push('late') }); // once: this listener removes itself
      stopFirst();
    },
  });
  bus.subscribe('second', { log: () => void heard.push('second') });
  bus.emit('log', entry('1'));
  bus.emit('log', entry('2'));
  assert.deepEqual(heard, ['first', 'second', 'second', 'late']);
});
