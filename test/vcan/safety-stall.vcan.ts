// The backup interlock on kernel SocketCAN (issue 15): the safety worker reads vcan0 through a raw
// socket of its own and opens the relay itself while the gateway's main thread is stuck in a busy
// loop for 10 s. The humid frames come from cansend in a shell started before the stall; candump's
// kernel timestamps time each humid frame to the open command on the bus.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { SAFETY_TOKENS } from '../../src/gateway/commands.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { percentiles, stallEventLoop } from '../helpers/stall.js';
import { IFACE, assertInGuest, resetVcan, startCandump, PATIENCE_MS } from './vcan-helpers.js';

let tg: TestGateway | undefined;
before(async () => {
  assertInGuest();
  await resetVcan();
});
after(async () => tg?.stop());

const hex = (n: number) => n.toString(16).toUpperCase().padStart(3, '0');
/** Environment frame: 90.0 %RH, 21.0 degC, the node's own limit 80/10, relay closed. */
const humid = (node: number) => `${hex(0x280 + node)}#8403D200500A0100`;

/** A shell that sends one humid frame per node, `gapS` apart, after `delayS`: it runs whatever this process does. */
function sendLater(nodes: number[], delayS: number, gapS: number) {
  const script = `sleep ${delayS}; ${nodes.map((n) => `cansend ${IFACE} ${humid(n)}; sleep ${gapS}`).join('; ')}`;
  return spawn('sh', ['-c', script], { stdio: 'ignore' });
}

/** Per node: candump time of its humid frame to the first open command (protocol v1 `2NN#01 tt 00`). */
function latencies(lines: string[], nodes: number[]): { node: number; ms: number; token: number }[] {
  const parsed = lines.map((line) => {
    const [stamp, , frame] = line.split(' ');
    return { at: Number(stamp.slice(1, -1)) * 1000, frame };
  });
  return nodes.map((node) => {
    const sent = parsed.find((p) => p.frame === humid(node));
    const open = parsed.find((p) => sent && p.at >= sent.at && new RegExp(`^${hex(0x200 + node)}#01[0-9A-F]{2}00`).test(p.frame));
    assert.ok(sent && open, `node ${node}: humid frame ${sent ? 'seen' : 'missing'}, open ${open ? 'seen' : 'missing'} in candump`);
    return { node, ms: open.at - sent.at, token: Number.parseInt(open.frame.slice(6, 8), 16) };
  });
}

test('with the main event loop stalled for 10 s, a humidity frame over the limit on vcan0 still gets the open command within 100 ms', async (t) => {
  tg = await startGateway({ can: { transport: 'socketcan', interface: IFACE, command_timeout_ms: 3000 } });
  const { gateway } = tg;
  await waitFor(
    () => gateway.parts.can.up && gateway.parts.safety.worker.state === 'running',
    PATIENCE_MS,
    'vcan0 up, safety worker running',
  );
  const dump = await startCandump('-L');
  t.after(() => dump.stop());

  const idleNodes = [11, 12, 13, 14, 15];
  const idleSender = sendLater(idleNodes, 0, 0.2);
  await once(idleSender, 'exit');
  await waitFor(
    () => idleNodes.every((n) => dump.lines().some((l) => l.includes(` ${hex(0x200 + n)}#01`))),
    PATIENCE_MS,
    'opens for the idle trips',
  );

  const stalledNodes = [21, 22, 23, 24, 25, 26, 27, 28, 29, 30];
  const sender = sendLater(stalledNodes, 1, 0.2);
  await once(sender, 'spawn');
  stallEventLoop(10_000);
  if (sender.exitCode === null) await once(sender, 'exit');
  const lines = await dump.stop();

  const idle = latencies(lines, idleNodes);
  const stalled = latencies(lines, stalledNodes);
  // Idle, the main thread's own open may win the race; stalled, only the worker can send one.
  for (const trip of stalled) {
    assert.ok(trip.token >= SAFETY_TOKENS.first, `node ${trip.node}: the open came from the safety worker (token ${trip.token})`);
  }
  assert.deepEqual(
    stalled.filter((trip) => trip.ms >= 100),
    [],
    'every open on the bus within 100 ms of its humid frame, main loop stalled',
  );
  const a = percentiles(idle.map((x) => x.ms));
  const b = percentiles(stalled.map((x) => x.ms));
  t.diagnostic(`metric vcan0 trip latency, main loop idle: p50 ${a.p50} ms, p99 ${a.p99} ms, max ${a.max} ms (${a.n} trips)`);
  t.diagnostic(`metric vcan0 trip latency, main loop stalled 10 s: p50 ${b.p50} ms, p99 ${b.p99} ms, max ${b.max} ms (${b.n} trips)`);
});
