// One way to open a CAN socket, in any thread: the patched socketcan addon hands a channel's frames to
// the event loop of the thread that started it (the safety worker's, not the main thread's), counts
// that socket's kernel drops, and a worker that ends with its channel open leaves no socket behind.
import { afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { QUEUED_FRAME_BYTES } from '../../src/can/receive-queue.js';
import { startWorker } from '../../src/worker-thread.js';
import type { FromChannelWorker, ToChannelWorker } from './channel-worker.js';
import { IFACE, PATIENCE_MS, assertInGuest, linkCounters, resetVcan } from './vcan-helpers.js';

const BACKLOG = '/proc/sys/net/core/netdev_max_backlog';
const workers: Worker[] = [];

before(async () => {
  assertInGuest();
  await resetVcan();
});
afterEach(async () => {
  for (const w of workers.splice(0)) await w.terminate();
});

/** Resolves with the worker's next message of `type`. */
function next<T extends FromChannelWorker['type']>(worker: Worker, type: T): Promise<Extract<FromChannelWorker, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${type}" from the worker within ${PATIENCE_MS} ms`)), PATIENCE_MS);
    const onMessage = (message: FromChannelWorker) => {
      if (message.type !== type) return;
      clearTimeout(timer);
      worker.off('message', onMessage);
      resolve(message as Extract<FromChannelWorker, { type: T }>);
    };
    worker.on('message', onMessage);
  });
}

async function channelWorker(): Promise<Worker> {
  const worker = startWorker('./channel-worker', import.meta.url, undefined);
  workers.push(worker);
  await next(worker, 'up');
  return worker;
}

async function stats(worker: Worker) {
  const answer = next(worker, 'stats');
  worker.postMessage({ type: 'stats' } satisfies ToChannelWorker);
  return answer;
}

/** The sockets this process holds open (nothing but the workers' channels opens one during these tests). */
function openSockets(): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
    } catch {
      return false; // closed while listing
    }
  }).length;
}

test('a channel in a worker thread receives and sends while the main thread is blocked', async (t) => {
  const worker = await channelWorker();
  // One shell, run synchronously: this thread's loop is blocked from before the first frame until candump
  // has seen every answer (or timed out). Only the worker's own loop can answer meanwhile.
  const script = `timeout 20 candump -n 50 -L ${IFACE},201:7FF & sleep 0.5; ` + `cangen ${IFACE} -n 50 -g 5 -I 181 -L 8 -D i; wait`;
  const run = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  const answers = run.stdout.split('\n').filter((line) => line.includes(' 201#'));
  t.diagnostic(`metric worker channel: ${answers.length} of 50 answers on the bus while the main thread was blocked`);
  assert.equal(answers.length, 50, `candump saw every answer before this thread ran again (${run.stderr})`);
  const s = await stats(worker);
  assert.equal(s.received, 50);
  assert.equal(s.sent, 50);
});

test("a worker's channel sizes its receive queue and counts the frames dropped while that worker stalls", async (t) => {
  // The device's backlog would drop part of a burst before any socket sees it: raised, as in receive-queue.vcan.ts.
  const savedBacklog = readFileSync(BACKLOG, 'utf8').trim();
  writeFileSync(BACKLOG, '100000');
  t.after(() => writeFileSync(BACKLOG, savedBacklog));
  const worker = await channelWorker();
  assert.equal((await stats(worker)).queueBytes, 1000 * QUEUED_FRAME_BYTES, 'one second at 125 kbit/s');

  const link0 = await linkCounters();
  const blocking = next(worker, 'blocking');
  worker.postMessage({ type: 'block', ms: 4000 } satisfies ToChannelWorker);
  await blocking;
  const gen = spawnSync('cangen', [IFACE, '-g', '0', '-n', '4000', '-I', '181', '-L', '8', '-D', 'i'], { encoding: 'utf8' });
  assert.equal(gen.status, 0, `cangen: ${gen.stderr}`);
  // Drained once the worker's received count stops moving.
  let last = { received: -1, at: Date.now() };
  for (;;) {
    const { received } = await stats(worker);
    if (received !== last.received) last = { received, at: Date.now() };
    else if (Date.now() - last.at > 1500) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const s = await stats(worker);
  t.diagnostic(`metric worker stalled: 4000 sent, ${s.received} received, ${s.kernelDrops} counted as kernel drops`);
  assert.equal((await linkCounters()).rxDropped - link0.rxDropped, 0, 'no frame lost before the sockets');
  assert.ok(s.received >= 1000 && s.received < 4000, `${s.received} frames held: at least the 1,000 of one second at 125 kbit/s`);
  assert.equal(s.kernelDrops, 4000 - s.received, 'every frame lost in the queue is counted');
});

/**
 * The count of open sockets once it has reached `expected` (within 5 s), or the last count seen: a
 * socket opened or closed alongside a worker's start or end may take a moment (once seen as one too many).
 */
async function socketsSettleAt(expected: number): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const count = openSockets();
    if (count === expected || Date.now() > deadline) return count;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a worker terminated with its channel open leaves no socket open and the process running', async () => {
  const before = openSockets();
  for (let round = 0; round < 3; round++) {
    const worker = await channelWorker();
    assert.equal(await socketsSettleAt(before + 1), before + 1, 'the worker opened its socket');
    workers.splice(workers.indexOf(worker), 1);
    const exited = once(worker, 'exit');
    await worker.terminate();
    await exited;
    assert.equal(await socketsSettleAt(before), before, `round ${round + 1}: the socket was closed with the worker`);
  }
});
