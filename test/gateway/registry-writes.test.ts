import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../src/db/database.js';
import { SqliteDeviceStore } from '../../src/db/devices.js';
import { RefusedError } from '../../src/gateway/errors.js';
import { EventBus, type EventName } from '../../src/gateway/events.js';
import { Registry } from '../../src/gateway/registry.js';
import { memoryLogger } from '../helpers/gateway.js';

/** A registry over a real (in-memory) SQLite database, and what its bus carried. */
function setup(t: TestContext) {
  const { log, lines } = memoryLogger('warn');
  const db = openDatabase(':memory:');
  t.after(() => db.close());
  const events = new EventBus(log);
  const registry = new Registry({ events, store: new SqliteDeviceStore(db), log, heartbeatTimeoutMs: 5000 });
  const heard: EventName[] = [];
  events.subscribe('test', {
    'device.changed': () => void heard.push('device.changed'),
    'device.removed': () => void heard.push('device.removed'),
    reading: () => void heard.push('reading'),
  });
  return { db, registry, heard, lines };
}

test('the registry publishes a change it applies, once, and nothing when nothing changed', (t) => {
  const { registry, heard } = setup(t);
  const device = registry.ensure('can:1', 'can', 'socket-1', 1);
  registry.update(device, { state: { relay: true, power: 12 } });
  assert.deepEqual(heard, ['device.changed']);
  assert.equal(device.state.relay, true);
  registry.update(device, { state: { relay: true } });
  registry.update(device, { lastSeen: Date.now() });
  assert.deepEqual(heard, ['device.changed'], 'a relay confirmed as it was reported, or only a new lastSeen, publishes nothing');
});

test('settings the database refuses leave the device as it was, and the caller hears why', (t) => {
  const { db, registry, heard } = setup(t);
  const device = registry.ensure('can:1', 'can', 'socket-1', 1);
  db.pragma('query_only = ON');
  assert.throws(
    () => registry.update(device, { settings: { room: 'bathroom' }, state: { relay: true } }),
    /readonly|read-only|query_only/i,
  );
  assert.deepEqual(device.settings, {});
  assert.equal(device.state.relay, undefined, 'nothing of the change was applied');
  assert.deepEqual(heard, [], 'and nothing was published');
});

test('a safety check that throws does not keep the reading from storage, the rules and MQTT; it is logged', (t) => {
  const { registry, heard, lines } = setup(t);
  const device = registry.ensure('can:1', 'can', 'socket-1', 1);
  registry.firstStage = () => {
    throw new Error('bug in the check');
  };
  registry.reading({ device, ts: Date.now(), humidity: 50 }, { state: { humidity: 50 } });
  assert.deepEqual(heard, ['reading', 'device.changed']);
  assert.equal(device.state.humidity, 50);
  assert.ok(
    lines().some((l) => l.level === 50 && l.err === 'bug in the check'),
    'the failure is logged at error',
  );
});

test('an interlocked device is not removed, whoever asks; an online one only when forced', (t) => {
  const { registry, heard } = setup(t);
  const device = registry.ensure('can:1', 'can', 'socket-1', 1);
  registry.update(device, { state: { gatewayLatch: 'humidity 90 %RH is at or over the limit 80 %RH' } });
  assert.throws(
    () => registry.remove(device, { force: true }),
    (e: Error) => e instanceof RefusedError && /socket-1 is interlocked; reset the latch/.test(e.message),
  );
  registry.update(device, { state: { gatewayLatch: undefined } });
  registry.markSeen(device);
  assert.throws(() => registry.remove(device), /socket-1 is online and would come back at its next heartbeat/);
  registry.remove(device, { force: true });
  assert.equal(registry.byKey('can:1'), undefined);
  assert.equal(heard.at(-1), 'device.removed');
});
