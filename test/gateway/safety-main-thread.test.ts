// The safety rule's main-thread side on its own (src/gateway/safety.ts): a real registry on a temporary
// database, DeviceControl with a stand-in switch, and a fake clock for the watchdogs. The safety worker
// thread is stood in for by one that agrees to everything, so only this thread's rule is seen here;
// safety.test.ts and safety-worker.test.ts test both layers together in a whole gateway.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { RelayActionName } from '../../src/can/codec.js';
import { Commands } from '../../src/gateway/commands.js';
import { DeviceControl } from '../../src/gateway/control.js';
import { RefusedError } from '../../src/gateway/errors.js';
import type { Device } from '../../src/gateway/device.js';
import { canDevice, fakeClock, unitBus, unitRegistry, unitSafety } from '../helpers/unit.js';

const status = (relay: boolean) => ({ relay, humidityLatched: false, powerLatched: false, sensorFault: false });

async function setup(t: TestContext, safetyConfig: Record<string, unknown> = {}) {
  const clock = fakeClock(t);
  const unit = unitRegistry(t, 60_000);
  const { registry, events, canNodes } = unit;
  const { can } = await unitBus(t);
  const commands = new Commands(can, 500);
  commands.start();
  t.after(() => commands.stop());
  const control = new DeviceControl(registry, events);
  /** What the switch was asked, in order, with what had been seen on the bus before. */
  const switched: RelayActionName[] = [];
  control.registerDriver('can', {
    async setRelay(_device: Device, action: RelayActionName, sent: () => void) {
      switched.push(action);
      sent();
      return action === 'close';
    },
  });
  const safety = await unitSafety(t, { registry, events, control, commands }, safetyConfig);
  const device = canDevice(unit, 1);
  // Each frame kind counts its own seq, as a node does (a repeated seq looks like a second node).
  const seq = { environment: 0, power: 0 };
  const report = {
    humidity: (humidity: number, relay = true) =>
      canNodes.handle({
        type: 'environment',
        node: 1,
        humidity,
        temperature: 21,
        humidityLimit: 80,
        hysteresis: 10,
        status: status(relay),
        seq: seq.environment++ & 0xff,
      }),
    power: (power: number, relay = true) =>
      canNodes.handle({
        type: 'power',
        node: 1,
        voltage: 230,
        current: power / 230,
        power,
        status: status(relay),
        seq: seq.power++ & 0xff,
      }),
  };
  return { ...unit, clock, control, safety, device, switched, report };
}

test('humidity at the limit: the relay is opened before any other listener sees the reading, latched, logged, and closes refused', async (t) => {
  const { events, device, switched, report, control, log } = await setup(t);
  const seenBy: string[] = [];
  events.subscribe('test', { reading: () => seenBy.push(`a reading listener, after ${switched.join(',') || 'nothing'}`) });
  report.humidity(79);
  report.humidity(80);
  assert.deepEqual(seenBy, ['a reading listener, after nothing', 'a reading listener, after open']);
  assert.equal(device.state.gatewayLatch, 'humidity 80 %RH is at or over the limit 80 %RH');
  assert.deepEqual(
    log.filter((e) => e.type === 'trip').map((e) => [e.cause, e.origin, e.detail]),
    [['humidity 80 %RH is at or over the limit 80 %RH', 'gateway', { quantity: 'humidity', value: 80, limit: 80 }]],
  );
  await assert.rejects(
    control.setRelay(device, 'close', 'rest'),
    (e) => e instanceof RefusedError && /interlocked by the gateway: humidity 80 %RH/.test(e.message),
  );
  assert.deepEqual(switched, ['open'], 'the refused close never reached the switch');
});

test('a reset waits until humidity is below the limit minus the hysteresis, then closes are allowed again', async (t) => {
  const { safety, device, report, control, log } = await setup(t);
  report.humidity(85);
  report.humidity(71, false);
  await assert.rejects(
    safety.reset(device, 'rest'),
    (e) =>
      e instanceof RefusedError &&
      e.message === 'socket-1: humidity 71 %RH is not yet below the re-arm level 70 %RH (limit 80 minus hysteresis 10)',
  );
  assert.ok(device.state.gatewayLatch, 'still latched');
  report.humidity(69, false);
  await safety.reset(device, 'rest');
  assert.equal(device.state.gatewayLatch, undefined);
  assert.deepEqual(await control.setRelay(device, 'close', 'rest'), { device, relay: true });
  assert.deepEqual(
    log.filter((e) => ['trip', 'refusal', 'reset'].includes(e.type)).map((e) => e.type),
    ['trip', 'refusal', 'reset'],
  );
});

test('while latched, a relay reported closed is opened again, at most once a second', async (t) => {
  const { clock, switched, report } = await setup(t);
  report.humidity(90);
  assert.deepEqual(switched, ['open']);
  report.power(100, true);
  report.power(100, true);
  assert.deepEqual(switched, ['open'], 'not again within the second');
  clock.advance(1000);
  report.power(100, true);
  assert.deepEqual(switched, ['open', 'open']);
});

test('watchdog: a relay still closed relay_confirm_s after an open raises an alarm; reported open, it clears', async (t) => {
  const { clock, device, control, report, log } = await setup(t, { relay_confirm_s: 3 });
  report.power(100, true);
  await control.setRelay(device, 'open', 'rest');
  report.power(100, true); // the node says it is still closed
  clock.advance(3000);
  assert.deepEqual(device.state.problems, [], 'no alarm at exactly relay_confirm_s');
  clock.advance(250);
  assert.deepEqual(device.state.problems, ['the relay still reports closed 3 s after an open command']);
  report.power(0, false);
  assert.deepEqual(device.state.problems, []);
  assert.deepEqual(
    log.filter((e) => e.type.startsWith('alarm')).map((e) => e.type),
    ['alarm', 'alarm-cleared'],
  );
});

test('watchdog: a closed socket without a humidity report for humidity_stale_s raises an alarm; the next report clears it', async (t) => {
  const { clock, device, report } = await setup(t, { humidity_stale_s: 15 });
  report.humidity(60, true);
  for (let i = 0; i < 10; i++) {
    clock.advance(1000);
    report.power(100, true); // power reports keep coming, humidity does not
  }
  clock.advance(5000);
  assert.deepEqual(device.state.problems, [], 'not at exactly 15 s');
  clock.advance(250);
  assert.deepEqual(device.state.problems, ['no humidity report for over 15 s while the socket is on']);
  report.humidity(61, true);
  assert.deepEqual(device.state.problems, []);
});

test('auto_rearm: below the re-arm level the latch clears by itself and the node is told to reset its own', async (t) => {
  const { device, report, log } = await setup(t, { auto_rearm: true });
  report.humidity(82);
  report.humidity(75, false);
  assert.ok(device.state.gatewayLatch, 'not yet below 70');
  report.humidity(69, false);
  assert.equal(device.state.gatewayLatch, undefined);
  assert.deepEqual(
    log.filter((e) => e.type === 'rearm').map((e) => e.cause),
    ['automatic re-arm (humidity 82 %RH is at or over the limit 80 %RH)'],
  );
});

test('while interlocked, limits may only get stricter; the refusal says which limit would loosen', async (t) => {
  const { safety, device, report, log } = await setup(t, { power_limit_w: 2000 });
  report.power(2500);
  assert.match(device.state.gatewayLatch ?? '', /power 2500 W is at or over the limit 2000 W/);
  await assert.rejects(
    safety.setLimits(device, { power_limit_w: 3000 }, 'rest'),
    (e) =>
      e instanceof RefusedError &&
      e.message ===
        'socket-1 is interlocked: its limits cannot be loosened (power_limit_w 2000 -> 3000) until the latch is reset under the limits it tripped on',
  );
  assert.equal(log.filter((e) => e.type === 'refusal').length, 1);
  await assert.rejects(safety.setLimits(device, { humidity_limit: 60, humidity_hysteresis: 60 }, 'rest'), {
    message: 'humidity_hysteresis (60) must be below humidity_limit (60), or the latch could never re-arm',
  });
});
