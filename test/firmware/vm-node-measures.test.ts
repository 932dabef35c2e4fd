// The VM node's simulated board reads what the plant does: its ADC tables (allocation-free, like the
// board's ADC) hold the sensors' signals at the sampling slots, whatever the sample clock's time when
// they are filled. They once held the signal at the time of the refill instead, so a reading could be
// anything from 74 W to 556 W at 460 W, depending on when the last control line came (the vcan0 guest
// run of the in-the-loop scenarios stopped at "MQTT state ON, about 460 W" because of it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeCommand } from '../../src/can/codec.js';
import { VmNode } from '../helpers/vm-node.js';

const NODE = 5;
const within = (measured: unknown, expected: number, fraction: number) =>
  typeof measured === 'number' && Math.abs(measured - expected) <= expected * fraction;

test('MicroPython VM node: its readings follow the simulated plant whenever the ADC tables are refilled', {
  timeout: 120_000,
}, async (t) => {
  const node = await VmNode.boot({ clock: 'virtual', config: { node_id: NODE }, plant: { humidity: 45, load_w: 460 } });
  t.after(() => node.kill());
  await node.vm.advance(3000);
  node.vm.deliver(encodeCommand(NODE, 1, { op: 'setRelay', action: 'close' }));
  const seen: string[] = [];
  // Refills at different moments of the sample clock (each control line refills), a reading after each.
  for (const [i, load] of [460, 460, 460, 900, 900, 460].entries()) {
    await node.vm.advance(700 + i * 37);
    await node.control(`load ${load}`);
    await node.vm.advance(1000); // a few measurement windows
    const status = await node.control('status');
    seen.push(`${status.volts} V ${status.watts} W`);
    assert.equal(status.relay, true);
    assert.ok(
      within(status.volts, 230, 0.02) && within(status.watts, load, 0.03),
      `expected 230 V and ${load} W; readings so far: ${seen.join(', ')}`,
    );
  }
  node.vm.deliver(encodeCommand(NODE, 2, { op: 'setRelay', action: 'open' }));
  await node.vm.advance(1000);
  const open = await node.control('status');
  assert.equal(open.watts, 0, `relay open: ${JSON.stringify(open)}`);
  assert.ok(within(open.volts, 230, 0.02), `relay open: ${JSON.stringify(open)}`);
  assert.deepEqual(node.reboots, []);
  t.diagnostic(`readings at 230 V: ${seen.join(', ')}`);
});
