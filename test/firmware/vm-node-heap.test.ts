// The firmware in an ESP32-sized heap: a plain ESP32 (no PSRAM) gives MicroPython about 100 KB. The node
// boots on the MicroPython VM with a 96 KB heap and runs 10 simulated minutes (virtual clock: reports
// every second, commands, settings written to flash, a humidity trip, a sensor fault) without running
// out. This port cannot hold a fixed heap: it collects only when a call returns to JavaScript and grows
// the heap otherwise, so the check is the live heap (after a collection, every 10 simulated seconds)
// with 16 KB to spare, and the figures are reported. Figures: firmware/README.md, "Memory".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decode, type Message } from '../../src/can/codec.js';
import { hostFiles, MicroPythonVm } from '../helpers/micropython-vm.js';
import { VmNode } from '../helpers/vm-node.js';

const HEAP = 96 * 1024;
const MINUTES = 10;
const NODE = 5;

test(`96 KB heap: ${MINUTES} simulated minutes of the firmware on the MicroPython VM without running out`, {
  timeout: 600_000,
}, async (t) => {
  // What the device modules alone hold once imported from source.
  const firmware = (dir: string) => hostFiles(fileURLToPath(new URL(`../../firmware/${dir}`, import.meta.url)), `/flash/${dir}`);
  // boot_slots.py sits beside main.py on the flash; the node reads the update state from it
  const bootStep = { '/flash/boot_slots.py': readFileSync(new URL('../../firmware/boot_slots.py', import.meta.url)) };
  const bare = await MicroPythonVm.boot({
    heapBytes: HEAP,
    files: { ...firmware('canplug'), ...firmware('host'), ...bootStep },
    cwd: '/flash',
  });
  // This port collects only when a call returns to JavaScript: collect in one call, read in the next.
  await bare.exec('import gc\ndef alloc():\n    return gc.mem_alloc()\ngc.collect()');
  const base = (await bare.call('alloc')) as number;
  await bare.exec(
    [
      'from canplug import app, node, settings, protocol, seed, commands, reports, safety, power_meter, rms',
      'from canplug import humidity, energy, storage, mcp2515, can_port, offline_port, bit_timing',
      'gc.collect()',
    ].join('\n'),
  );
  const importBytes = ((await bare.call('alloc')) as number) - base;
  // host/heap_scenario.py: the same scenario as the fixed-heap run on MicroPython's unix port (read here,
  // so that the node's VM does not hold it).
  await bare.exec(`from host import heap_scenario\ndef scenario():\n    return heap_scenario.as_json(${NODE})`);
  type Step = { second: number; id: number; data: string } | { second: number; control: string };
  const steps = JSON.parse((await bare.call('scenario')) as string) as Step[];
  await bare.kill();

  const node = await VmNode.boot({ heapBytes: HEAP, clock: 'virtual', config: { node_id: NODE }, plant: { humidity: 45, load_w: 460 } });
  t.after(() => node.kill());
  const bootTotal = await node.vm.heapTotal();
  const messages: Message[] = [];
  node.vm.on('frame', (f) => {
    const r = decode(f);
    if (r.ok) messages.push(r.message);
  });
  let commands = 0;
  let largestLive = 0;
  let largestTotal = bootTotal;
  for (let s = 1; s <= MINUTES * 60; s++) {
    for (const step of steps.filter((x) => x.second === s)) {
      if ('control' in step) {
        assert.equal((await node.control(step.control)).ok, true, step.control);
      } else {
        node.vm.deliver({ id: step.id, data: Buffer.from(step.data, 'hex') });
        commands++;
      }
    }
    await node.vm.advance(1000);
    largestTotal = Math.max(largestTotal, await node.vm.heapTotal());
    if (s % 10 === 0) largestLive = Math.max(largestLive, (await node.heap()).alloc);
  }
  assert.deepEqual(node.reboots, [], 'no exception escaped the application');
  const heap = await node.heap();
  const sampling = JSON.parse((await node.vm.call('sampling_allocations')) as string) as {
    sampling: number;
    window: number;
    samples_per_window: number;
    late_cycles: number;
  };

  const count = (type: string) => messages.filter((m) => m.type === type).length;
  const replies = messages.filter((m) => m.type === 'reply');
  const events = messages.filter((m) => m.type === 'event').map((m) => (m.type === 'event' ? m.code : 0));
  t.diagnostic(
    `heap ${HEAP} bytes asked for; the port grew it to ${largestTotal} (it collects only between scheduler turns); device modules imported from source hold ${importBytes} bytes`,
  );
  t.diagnostic(
    `peak gc.mem_alloc() ${heap.peak_alloc} (garbage of a turn included); largest live heap ${largestLive}; free in ${HEAP} after gc.collect() ${HEAP - heap.alloc}`,
  );
  t.diagnostic(
    `per measurement window (${sampling.samples_per_window} samples): ${sampling.window} bytes allocated (the window's maths and its Reading), of which sampling ${sampling.sampling}`,
  );
  t.diagnostic(
    `frames in ${MINUTES} simulated minutes: ${messages.length} (${count('power')} power, ${count('heartbeat')} heartbeats, ${replies.length} replies, events ${events.join(',')})`,
  );

  assert.ok(largestLive < HEAP - 16 * 1024, `the live heap (${largestLive} bytes) leaves at least 16 KB of ${HEAP} free`);
  assert.ok(count('power') >= MINUTES * 60 - 60, `power reports about every second: ${count('power')}`);
  assert.ok(count('heartbeat') >= MINUTES * 60 - 5, `heartbeats every second: ${count('heartbeat')}`);
  assert.equal(replies.length, commands, 'every command answered');
  assert.deepEqual(
    replies.filter((r) => r.type === 'reply' && r.result !== 'ok').map((r) => (r.type === 'reply' ? r.result : '')),
    ['interlocked'],
  );
  assert.ok(
    events.includes(0x01) && events.includes(0x02) && events.includes(0x10),
    `trip, re-arm and sensor-fault events: ${events.join(',')}`,
  );
  // The sampling loop stores raw counts only: nothing allocated while a window is sampled (the maths
  // runs once per window). gc.mem_alloc() around the window; this port collects nothing during a call.
  assert.equal(sampling.late_cycles, 0, 'every cycle sampled on time');
  assert.equal(sampling.sampling, 0, `sampling ${sampling.samples_per_window} samples allocated ${sampling.sampling} bytes`);
  const status = await node.control('status');
  assert.equal(status.relay, true, 'closed again at the end');
});
