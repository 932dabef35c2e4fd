/**
 * The safety worker (docs/safety.md, layer 2), the entry module of a worker thread. It has its own
 * CAN access (a raw socket of its own, or its own endpoint of the simulated bus) and does nothing
 * else, so a stalled main event loop cannot delay a trip: every power and environment frame meets
 * the rule here first, and at or over a limit the open command goes out in the same turn. It holds
 * the limits and latches; the main thread asks it before any close, limit change or reset.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CanBus } from '../can/can-bus.js';
import type { Message } from '../can/codec.js';
import { createTransport } from '../can/create-transport.js';
import type { SeedReading } from '../can/seed-codec.js';
import { VirtualBus } from '../can/sim-transport.js';
import { monotonicMs } from './clock.js';
import { nextToken, SAFETY_TOKENS } from './commands.js';
import type { FromWorker, Latch, SafetyRequest, SafetyWorkerInit, ToWorker } from './safety-protocol.js';
import { humidityResetRefusal, loosened, overLimit, rearmLevel, type Limits, type RuleReading } from './safety-rule.js';

/** While latched, a relay reported closed gets another open at most this often (as in the main thread). */
const RESEND_OPEN_MS = 1000;
/** How often the kernel's drop count of the worker's own socket is read (posted only when it grew). */
const DROPS_REPORT_MS = 1000;
/** How long a humidity reset refused on the reading held waits for the next one (the main thread waits 2 s for any answer). */
const RESET_WAIT_MS = 1500;

interface Watched {
  limits: Limits;
  latch?: Latch;
  /** For a person's reset: refused while still too humid. */
  humidity?: number;
  lastOpenAt: number;
  lastToken?: number;
}

const init = workerData as SafetyWorkerInit;
const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);
const forward = (level: 'warn' | 'error') => (first: unknown, second?: unknown) =>
  typeof first === 'string'
    ? post({ type: 'log', level, msg: first })
    : post({ type: 'log', level, msg: String(second), detail: first as Record<string, unknown> });
const log = { debug: () => {}, warn: forward('warn'), error: forward('error') };

const watched = new Map<string, Watched>();
const watch = (key: string): Watched => {
  let w = watched.get(key);
  if (!w) watched.set(key, (w = { limits: init.defaults, lastOpenAt: -Infinity }));
  return w;
};
for (const d of init.devices) Object.assign(watch(d.key), { limits: d.limits, latch: d.latch });
/** Per device, resets waiting for its next humidity reading (answerReset). */
const resetsWaiting = new Map<string, (() => void)[]>();

const transport = await createTransport(init.can, log, new VirtualBus(init.busName), 'safety');
const can = new CanBus(transport, init.can.protocol, log);

function open(key: string, w: Watched): void {
  w.lastOpenAt = monotonicMs();
  if (key === 'seed') {
    can.sendSeedRelay(false);
  } else if (key.startsWith('can:')) {
    w.lastToken = nextToken(SAFETY_TOKENS, w.lastToken);
    can.sendCommand(Number(key.slice(4)), w.lastToken, { op: 'setRelay', action: 'open' });
  }
}

/** The rule, then keeping a latched relay open. */
function check(key: string, reading: RuleReading, relayClosed?: boolean): void {
  const w = watch(key);
  if (reading.humidity !== undefined) {
    w.humidity = reading.humidity;
    const waiting = resetsWaiting.get(key);
    if (waiting) {
      resetsWaiting.delete(key);
      // A copy: each settle takes itself out of the list.
      for (const settle of [...waiting]) settle();
    }
  }
  const trip = init.gatewayRule ? overLimit(w.limits, reading) : undefined;
  if (trip && !w.latch) {
    open(key, w);
    w.latch = { kind: trip.kind, reason: trip.reason };
    post({ type: 'tripped', key, trip });
    return;
  }
  const h = reading.humidity;
  if (!trip && w.latch?.kind === 'humidity' && w.limits.auto_rearm && h !== undefined && h < rearmLevel(w.limits)) w.latch = undefined;
  if (w.latch && relayClosed && monotonicMs() - w.lastOpenAt >= RESEND_OPEN_MS) open(key, w);
}

can.on('message', (m: Message) => {
  if (m.type === 'power') check(`can:${m.node}`, { power: m.power, current: m.current }, m.status.relay);
  else if (m.type === 'environment') check(`can:${m.node}`, { humidity: m.humidity }, m.status.relay);
  else if (m.type === 'command' && m.command.op === 'setRelay' && m.command.action !== 'open') {
    // Someone else's close (or toggle) for a latched socket: an open follows right behind it.
    const key = `can:${m.node}`;
    const w = watched.get(key);
    if (w?.latch) {
      open(key, w);
      log.warn({ node: m.node, latch: w.latch.reason }, 'a close for a latched socket was seen on the bus; opened again');
    }
  }
});
can.on('seed', (r: SeedReading) => check('seed', { [r.quantity]: r.value }, r.quantity === 'power' ? r.value > 0 : undefined));

function answer(request: SafetyRequest): string | undefined {
  const w = watch(request.key);
  switch (request.type) {
    case 'may-close':
      return w.latch
        ? `${request.name} is interlocked by the gateway: ${w.latch.reason}; a person must reset it once the condition has cleared`
        : undefined;
    case 'may-set-limits': {
      const looser = w.latch ? loosened(w.limits, request.limits) : [];
      if (looser.length === 0) return undefined;
      return `${request.name} is interlocked: its limits cannot be loosened (${looser.join(', ')}) until the latch is reset under the limits it tripped on`;
    }
    case 'reset': {
      const refusal = w.latch?.kind === 'humidity' ? humidityResetRefusal(request.name, w.limits, w.humidity) : undefined;
      if (!refusal) w.latch = undefined;
      return refusal;
    }
  }
}

/**
 * The main thread asks for a person's reset only once it has seen a reading under the re-arm level,
 * but this thread may not have handled that frame yet (a slow turn): refused on the humidity it
 * holds, the reset is answered on the node's next humidity reading instead, or after RESET_WAIT_MS
 * on what it holds then.
 */
function answerReset(request: Extract<SafetyRequest, { type: 'reset' }>, id: number): void {
  const refusal = answer(request);
  if (!refusal || watched.get(request.key)?.latch?.kind !== 'humidity') return post({ type: 'answer', id, refusal });
  const waiting = resetsWaiting.get(request.key) ?? [];
  resetsWaiting.set(request.key, waiting);
  const settle = () => {
    clearTimeout(timer);
    const i = waiting.indexOf(settle);
    if (i >= 0) waiting.splice(i, 1);
    post({ type: 'answer', id, refusal: answer(request) });
  };
  const timer = setTimeout(settle, RESET_WAIT_MS);
  waiting.push(settle);
}

let dropsReported = 0;
const dropsTimer = setInterval(() => {
  const drops = transport.stats().kernelDrops ?? 0;
  if (drops !== dropsReported) post({ type: 'kernel-drops', total: (dropsReported = drops) });
}, DROPS_REPORT_MS);

async function stop(): Promise<void> {
  clearInterval(dropsTimer);
  await can.stop();
  post({ type: 'stopped' });
  port.close();
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'ping') post({ type: 'pong' });
  else if (message.type === 'hang-for-test') {
    const until = performance.now() + message.ms;
    while (performance.now() < until);
  } else if (message.type === 'stop') void stop();
  else if (message.type === 'forget') watched.delete(message.key);
  else if (message.type === 'limits') watch(message.key).limits = message.limits;
  else if (message.type === 'latch') watch(message.key).latch ??= message.latch;
  else if (message.type === 'reset') answerReset(message, message.id);
  else post({ type: 'answer', id: message.id, refusal: answer(message) });
});
// A bug here must not leave a raw socket's reader running in a dying thread: close the bus first.
process.on('uncaughtException', (error) => {
  log.error({ err: error.message }, 'safety worker failed');
  can.stop().finally(() => process.exit(1));
});

await can.start();
post({ type: 'ready' });
