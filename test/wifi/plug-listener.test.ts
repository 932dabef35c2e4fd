// The Wi-Fi plug listener on its own: datagrams handed to WifiPlugs.receive() as the UDP socket would,
// a real registry on a temporary database, and a fake clock for the offline timeout and for switch
// confirmations. (wifi-plugs.test.ts and plug-switching.test.ts do the same over real UDP sockets.)
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/config.js';
import { CommandTimeoutError, UnavailableError } from '../../src/gateway/errors.js';
import type { Reading } from '../../src/gateway/device.js';
import { silentLogger } from '../../src/log.js';
import { WifiPlugs } from '../../src/wifi/wifi-plugs.js';
import { fakeClock, unitRegistry } from '../helpers/unit.js';

const FROM = { address: '192.168.1.50' };

function listener(t: TestContext, udp: Record<string, unknown> = {}) {
  const unit = unitRegistry(t);
  const config = parseConfig({ udp }).udp;
  const plugs = new WifiPlugs({ registry: unit.registry, config, log: silentLogger });
  t.after(() => plugs.stop());
  const readings: Reading[] = [];
  unit.events.subscribe('test', { reading: (r) => readings.push(r) });
  const receive = (text: string) => plugs.receive(Buffer.from(text), FROM);
  return { ...unit, plugs, readings, receive };
}

test('a broadcast registers the plug under its node name, with its relay and power as a reading', (t) => {
  const clock = fakeClock(t);
  const { registry, plugs, readings, receive } = listener(t);
  receive('1234567:Kitchen&1:1.00&2:118.50&3:0.90&4:10:00:00 - 22.11.2026');
  const device = registry.byKey('wifi:1234567')!;
  assert.equal(device.name, 'Kitchen');
  assert.equal(device.available, true);
  assert.equal(device.state.relay, true);
  assert.equal(device.state.power, 118.5);
  assert.equal(device.info.plugClock, '10:00:00 - 22.11.2026');
  assert.deepEqual(
    readings.map((r) => [r.device.name, r.relay, r.power]),
    [['Kitchen', true, 118.5]],
  );
  assert.equal(plugs.address(device), FROM.address, 'its switch commands go to where it broadcast from');

  clock.advance(5000); // the plug's next broadcast (one per report period is applied)
  receive('1234567:Kitchen&1:0.00&2:0.00');
  assert.equal(registry.list().length, 1, 'one device per chip id');
  assert.equal(device.state.relay, false);
});

test('malformed datagrams are counted and leave no device behind; beyond udp.max_plugs new chips are ignored', (t) => {
  const { registry, plugs, receive } = listener(t, { max_plugs: 1 });
  for (const bad of ['', 'hello', '12:Name', 'abc:Name&1:1', '12:Name&1:1\u0007']) receive(bad);
  assert.equal(plugs.counters.malformed, 5);
  assert.deepEqual(registry.list(), []);

  receive('1:First&1:0.00');
  receive('2:Second&1:0.00');
  receive('2:Second&1:0.00');
  assert.deepEqual(
    registry.list().map((d) => d.name),
    ['First'],
  );
  assert.equal(plugs.counters.ignored, 2);
});

test('silent for udp.offline_timeout_ms the plug goes offline; its next broadcast brings it back', (t) => {
  const clock = fakeClock(t);
  const { registry, log, receive } = listener(t, { offline_timeout_ms: 15_000 });
  registry.start();
  t.after(() => registry.stop());
  receive('42:Heater&1:1.00&2:800.00');
  const heater = registry.find('Heater')!;
  for (let s = 0; s < 60; s += 5) {
    clock.advance(5000);
    receive('42:Heater&1:1.00&2:800.00');
  }
  assert.equal(heater.available, true, 'broadcasts every 5 s keep it online');
  clock.advance(15_000);
  assert.equal(heater.available, true, 'not before the timeout has passed');
  clock.advance(1000);
  assert.equal(heater.available, false);
  receive('42:Heater&1:1.00&2:800.00');
  assert.equal(heater.available, true);
  assert.deepEqual(
    log.filter((e) => e.type === 'availability').map((e) => e.cause),
    ['online', 'no readings or broadcasts', 'online'],
  );
});

test('a switch is confirmed by the first broadcast showing the new state; none within the time limit is a timeout', async (t) => {
  const clock = fakeClock(t);
  const { registry, plugs, receive } = listener(t);
  receive('7:Lamp&1:0.00&2:0.00');
  const lamp = registry.find('Lamp')!;

  const on = plugs.expectRelay(lamp, true, 12_000);
  receive('7:Lamp&1:0.00&2:0.00');
  clock.advance(5000);
  receive('7:Lamp&1:1.00&2:40.00');
  assert.equal(await on.confirmed, true, 'the broadcast showing ON confirms it');

  const off = plugs.expectRelay(lamp, false, 12_000);
  clock.advance(11_999);
  receive('7:Lamp&1:1.00&2:40.00');
  clock.advance(1);
  await assert.rejects(
    off.confirmed,
    (e) => e instanceof CommandTimeoutError && e.message === 'Lamp did not confirm: no broadcast showing it OFF within 12000 ms',
  );
});

test('a newer switch command supersedes the one still waiting; stop() fails what is left', async (t) => {
  fakeClock(t);
  const { registry, plugs, receive } = listener(t);
  receive('7:Lamp&1:0.00');
  const lamp = registry.find('Lamp')!;
  const first = plugs.expectRelay(lamp, true, 12_000);
  const second = plugs.expectRelay(lamp, false, 12_000);
  await assert.rejects(
    first.confirmed,
    (e) => e instanceof UnavailableError && e.message === 'superseded by a newer switch command for Lamp',
  );
  plugs.stop();
  await assert.rejects(second.confirmed, (e) => e instanceof UnavailableError && e.message === 'the gateway is shutting down');
});
