import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { encode } from '../../src/can/codec.js';
import { SimTransport, VirtualBus } from '../../src/can/sim-transport.js';
import { EXIT } from '../../src/cli/common.js';
import { parseNodeCommand, send } from '../../src/cli/send.js';
import { runSimSockets } from '../../src/cli/sim.js';
import { sniff } from '../../src/cli/sniff.js';
import { waitFor } from '../helpers/gateway.js';

function capture(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  return { out, text: () => text };
}

const simOptions = { protocol: 'v1' as const, reportPeriodMs: 100, humidityLimit: 80, hysteresis: 10 };

test('sim + sniff: simulated sockets on one bus, decoded in protocol terms by a sniffer on another endpoint', async (t) => {
  const bus = new VirtualBus();
  const sim = await runSimSockets(new SimTransport(bus), [3, 7], simOptions);
  t.after(() => sim.stop());
  const { out, text } = capture();
  const session = await sniff(new SimTransport(bus), out, { protocol: 'v1', count: 12, now: () => new Date('2025-01-01T12:00:00.123Z') });
  const summary = await session.done;
  assert.equal(summary.shown, 12);
  const lines = text().trim().split('\n');
  assert.equal(lines.length, 12);
  assert.ok(
    lines.every((l) => l.startsWith('12:00:00.123  node ')),
    lines[0],
  );
  const power = lines.find((l) => l.includes(' power '));
  assert.match(power ?? '', /^12:00:00\.123 {2}node (3|7) +power +230\.0 V {2}\d+\.\d{3} A {2}\d+\.\d W {2}relay on {2}seq \d+$/);
  assert.ok(
    lines.some((l) => / environment +\d+\.\d %RH {2}21\.0 °C {2}limit 80 %RH \(hysteresis 10\)/.test(l)),
    'environment line',
  );
  assert.ok(
    lines.some((l) => / heartbeat +(boot|running) {2}protocol 1 {2}firmware 1\.0/.test(l)),
    'heartbeat line',
  );
});

test('sniff shows frames that are not protocol frames, with the reason; filters by node; JSON lines', async (t) => {
  const bus = new VirtualBus();
  const other = new SimTransport(bus);
  await other.start();
  t.after(() => other.stop());
  const { out, text } = capture();
  const session = await sniff(new SimTransport(bus), out, { protocol: 'v1', count: 3, json: true });
  other.send({ id: 0x123, data: Buffer.from([1, 2]) }); // outside the scheme (0x7FF is node 63's transfer id since firmware updates)
  other.send({ id: 0x185, data: Buffer.from([1, 2, 3]) });
  other.send(encode({ type: 'energy', node: 5, energyWh: 1234, uptime: 60 }));
  const summary = await session.done;
  assert.deepEqual(summary, { shown: 3, unknown: 1, malformed: 1, busErrors: 0 });
  const records = text()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(records[0].error, 'unknown');
  assert.equal(records[0].frame, '123#0102');
  assert.equal(records[1].error, 'malformed');
  assert.match(String(records[1].detail), /DLC 3, expected 8/);
  assert.equal(records[2].type, 'energy');
  assert.equal(records[2].energyWh, 1234);

  const filtered = capture();
  const onlyNode2 = await sniff(new SimTransport(bus), filtered.out, { protocol: 'v1', node: 2, count: 1 });
  other.send(encode({ type: 'energy', node: 1, energyWh: 1, uptime: 1 }));
  other.send(encode({ type: 'energy', node: 2, energyWh: 2, uptime: 2 }));
  await onlyNode2.done;
  assert.match(filtered.text(), /node 2 +energy +2 Wh/);
  assert.doesNotMatch(filtered.text(), /node 1 /);
});

test('send: the node switches and the reply is printed; an interlock refusal exits 3; silence exits 4', async (t) => {
  const bus = new VirtualBus();
  const sim = await runSimSockets(new SimTransport(bus), [4], simOptions);
  t.after(() => sim.stop());
  const [socket] = sim.sockets;

  const off = capture();
  assert.equal(await send(new SimTransport(bus), 4, parseNodeCommand(['relay', 'off']), { timeoutMs: 1000, out: off.out }), EXIT.ok);
  assert.equal(socket.relay, false, 'the node opened its relay');
  assert.equal(off.text(), 'node 4: setRelay action=open -> ok (relay off)\n');

  socket.setHumidity(90); // the node's interlock latches
  const on = capture();
  assert.equal(await send(new SimTransport(bus), 4, parseNodeCommand(['relay', 'on']), { timeoutMs: 1000, out: on.out }), EXIT.refused);
  assert.equal(socket.relay, false);
  assert.match(on.text(), /-> interlocked \(relay off, HUMIDITY INTERLOCK\)/);

  const limit = capture();
  assert.equal(
    await send(new SimTransport(bus), 4, parseNodeCommand(['humidity-limit', '95', '5']), { timeoutMs: 1000, out: limit.out }),
    EXIT.ok,
  );
  assert.equal(socket.humidityLimit, 95);

  const silent = capture();
  assert.equal(await send(new SimTransport(bus), 9, parseNodeCommand(['report']), { timeoutMs: 200, out: silent.out }), EXIT.timeout);
  assert.equal(silent.text(), 'node 9: no answer to reportNow within 200 ms\n');
});

test('send refuses bad commands before touching the bus, saying what is wrong', () => {
  const problem = (words: string[]) => {
    try {
      parseNodeCommand(words);
    } catch (error) {
      return { message: (error as Error).message, code: (error as { exitCode?: number }).exitCode };
    }
    return undefined;
  };
  assert.deepEqual(problem(['relay', 'maybe']), { message: 'relay takes one of on, off, toggle; got "maybe"', code: EXIT.usage });
  assert.deepEqual(problem(['humidity-limit', '75']), { message: 'humidity-limit needs the hysteresis in %RH', code: EXIT.usage });
  assert.deepEqual(problem(['report-period', '50']), {
    message: 'the period in ms must be an integer from 100 to 60000, got "50"',
    code: EXIT.usage,
  });
  assert.match(problem(['explode'])?.message ?? '', /^unknown command "explode"\ncommands:/);
  assert.deepEqual(parseNodeCommand(['power-on', 'restore']), { op: 'setPowerOnState', state: 'restore' });
  assert.deepEqual(parseNodeCommand(['identify']), { op: 'identify', seconds: 10 });
});

test('sim runs the legacy seed socket, which switches on the whole-frame command', async (t) => {
  const bus = new VirtualBus();
  const sim = await runSimSockets(new SimTransport(bus), [], { ...simOptions, protocol: 'seed' });
  t.after(() => sim.stop());
  const { out, text } = capture();
  const session = await sniff(new SimTransport(bus), out, { protocol: 'seed', count: 4 });
  await session.done;
  assert.match(text(), /seed +voltage +230\.5 V/);
  assert.match(text(), /seed +humidity +50 %RH/);
  const controller = new SimTransport(bus);
  await controller.start();
  t.after(() => controller.stop());
  controller.send({ id: 0x001, data: Buffer.alloc(8) });
  await waitFor(() => sim.seed?.relay === false, 2000, 'seed socket off');
});
