// DeviceControl on its own: a real registry on a temporary database, a stand-in driver for the
// device's switch. Every interface (REST, MQTT, rules, CLI) switches through here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RelayActionName } from '../../src/can/codec.js';
import { DeviceControl, type RelayDriver } from '../../src/gateway/control.js';
import { RefusedError, UnavailableError } from '../../src/gateway/errors.js';
import type { Device } from '../../src/gateway/device.js';
import { canDevice, unitRegistry } from '../helpers/unit.js';

/** A switch that obeys (or fails with `error`), recording what it was asked. */
function driver(error?: Error): RelayDriver & { calls: RelayActionName[] } {
  const calls: RelayActionName[] = [];
  return {
    calls,
    async setRelay(device: Device, action: RelayActionName, sent: () => void) {
      calls.push(action);
      if (error) throw error;
      sent();
      return action === 'close' || (action === 'toggle' && device.state.relay !== true);
    },
  };
}

function setup(t: Parameters<typeof unitRegistry>[0]) {
  const unit = unitRegistry(t);
  const control = new DeviceControl(unit.registry, unit.events);
  const device = canDevice(unit, 1);
  const changed: Device[] = [];
  const sent: [string, string][] = [];
  unit.events.subscribe('test', {
    'device.changed': (d) => changed.push(d),
    'relay.sent': (_d, action, origin) => sent.push([action, origin]),
  });
  return { ...unit, control, device, changed, sent };
}

test('a close asks the guards in turn; the first reason refuses it, is logged with its origin, and nothing is sent', async (t) => {
  const { control, device, log, sent } = setup(t);
  const can = driver();
  control.registerDriver('can', can);
  const asked: string[] = [];
  control.addGuard(() => void asked.push('first'));
  control.addGuard(async () => {
    asked.push('second');
    return 'humidity 85 %RH is over the limit';
  });
  control.addGuard(() => void asked.push('third'));

  await assert.rejects(
    control.setRelay(device, 'close', 'rest'),
    (e) => e instanceof RefusedError && e.message === 'humidity 85 %RH is over the limit',
  );
  assert.deepEqual(asked, ['first', 'second']);
  assert.deepEqual(can.calls, [], 'the driver was never asked');
  assert.deepEqual(sent, []);
  assert.deepEqual(
    log.filter((e) => e.type === 'refusal').map((e) => [e.cause, e.origin, e.detail]),
    [['humidity 85 %RH is over the limit', 'rest', { request: 'close relay' }]],
  );
});

test('opens are never guarded; a toggle is a close unless the relay is known to be closed', async (t) => {
  const { control, device, registry } = setup(t);
  const can = driver();
  control.registerDriver('can', can);
  const remove = control.addGuard(() => 'interlocked');

  assert.deepEqual(await control.setRelay(device, 'open', 'mqtt'), { device, relay: false });
  await assert.rejects(control.setRelay(device, 'toggle', 'mqtt'), RefusedError, 'toggling an open relay closes it');
  registry.update(device, { state: { relay: undefined } });
  await assert.rejects(control.setRelay(device, 'toggle', 'mqtt'), RefusedError, 'an unknown relay state may be open');
  registry.update(device, { state: { relay: true } });
  assert.deepEqual(await control.setRelay(device, 'toggle', 'mqtt'), { device, relay: false });

  remove();
  assert.deepEqual(await control.setRelay(device, 'close', 'mqtt'), { device, relay: true }, 'a removed guard is no longer asked');
  assert.deepEqual(can.calls, ['open', 'toggle', 'close']);
});

test('a confirmed switch: relay.sent with the origin, one device change, one log entry; the same state again changes nothing', async (t) => {
  const { control, device, changed, sent, log } = setup(t);
  control.registerDriver('can', driver());
  changed.length = 0;

  await control.setRelay(device, 'close', 'rule:4');
  assert.equal(device.state.relay, true);
  assert.deepEqual(sent, [['close', 'rule:4']]);
  assert.deepEqual(changed, [device]);
  await control.setRelay(device, 'close', 'rule:4');
  assert.equal(changed.length, 1, 'a relay already closed is not announced again');
  assert.deepEqual(
    log.filter((e) => e.type === 'relay').map((e) => [e.cause, e.origin]),
    [
      ['on', 'rule:4'],
      ['on', 'rule:4'],
    ],
  );
});

test("a device without a driver cannot be switched; a refusal by the device itself is logged like a guard's", async (t) => {
  const { control, device, log } = setup(t);
  await assert.rejects(
    control.setRelay(device, 'open', 'rest'),
    (e) => e instanceof UnavailableError && e.message === 'socket-1 has no switch that canplug can drive',
  );

  control.registerDriver('can', driver(new RefusedError('socket-1: the node refused: its interlock is latched')));
  await assert.rejects(control.setRelay(device, 'close', 'cli'), RefusedError);
  assert.deepEqual(
    log.filter((e) => e.type === 'refusal').map((e) => [e.cause, e.origin]),
    [['socket-1: the node refused: its interlock is latched', 'cli']],
  );
});

test('forceOpen skips the guards and does not wait: the open is sent at once, its failure only reported', async (t) => {
  const { control, device, sent, registry } = setup(t);
  control.registerDriver('can', driver());
  control.addGuard(() => 'interlocked');
  registry.update(device, { state: { relay: true } });
  control.forceOpen(device, 'gateway', () => assert.fail('no error expected'));
  assert.deepEqual(sent, [['open', 'gateway']], 'sent before forceOpen returned');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(device.state.relay, false, 'the confirmed state is applied');

  control.registerDriver('can', driver(new Error('bus down')));
  const errors: string[] = [];
  control.forceOpen(device, 'gateway', (e) => errors.push(e.message));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(errors, ['bus down']);
});
