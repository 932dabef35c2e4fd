/**
 * Parts of the gateway on their own, for unit tests: a fake clock (timers, Date and the monotonic
 * clock move only when the test says so), a real registry on a temporary SQLite file, and a CAN bus
 * on a simulated bus with a peer that plays the nodes. Whole-daemon behaviour stays in the other tests.
 */
import type { TestContext } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { CanBus } from '../../src/can/can-bus.js';
import { decode, encode, opcodeOf, type Message, type ReplyResultName } from '../../src/can/codec.js';
import { SimTransport, VirtualBus } from '../../src/can/sim-transport.js';
import { SqliteDeviceStore } from '../../src/db/devices.js';
import { parseConfig } from '../../src/config/config.js';
import { HealthReport } from '../../src/contracts/health.js';
import { CanNodes } from '../../src/gateway/can-nodes.js';
import type { Commands } from '../../src/gateway/commands.js';
import type { DeviceControl } from '../../src/gateway/control.js';
import type { Device } from '../../src/gateway/device.js';
import { EventBus, type LogEvent } from '../../src/gateway/events.js';
import { Registry } from '../../src/gateway/registry.js';
import { Safety } from '../../src/gateway/safety.js';
import { silentLogger } from '../../src/log.js';
import { tempDatabase } from './database.js';

export interface FakeClock {
  /** Moves every clock forward and runs the timers that fall due, in order. */
  advance(ms: number): void;
}

/**
 * setTimeout, setInterval and Date under the test's control (node:test's mock timers), and
 * performance.now() (the monotonic clock of src/gateway/clock.ts) following them. setImmediate stays
 * real, so frames on the simulated bus and promises still flow. Undone when the test ends.
 */
export function fakeClock(t: TestContext, startMs = Date.UTC(2025, 0, 6, 12)): FakeClock {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: startMs });
  t.mock.method(performance, 'now', () => Date.now() - startMs);
  return { advance: (ms) => t.mock.timers.tick(ms) };
}

/** Lets setImmediate callbacks and promise continuations run (frames cross the simulated bus). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

export interface UnitRegistry {
  registry: Registry;
  events: EventBus;
  /** What CAN frames mean for devices: messages handed to it as if they came off the bus. */
  canNodes: CanNodes;
  /** Every log event emitted, in order. */
  log: LogEvent[];
  store: SqliteDeviceStore;
}

/** A registry on a real, temporary SQLite database; nothing started (no sweep timer). */
export function unitRegistry(t: TestContext, heartbeatTimeoutMs = 1500): UnitRegistry {
  const { db } = tempDatabase(t);
  const events = new EventBus(silentLogger);
  const store = new SqliteDeviceStore(db);
  const registry = new Registry({ events, store, log: silentLogger, heartbeatTimeoutMs });
  // Not started: the tests hand CanNodes its messages directly.
  const bus = new CanBus(new SimTransport(new VirtualBus()), 'v1', silentLogger);
  const canNodes = new CanNodes({ registry, events, bus, log: silentLogger });
  const log: LogEvent[] = [];
  events.subscribe('test', { log: (e) => log.push(e) });
  return { registry, events, canNodes, log, store };
}

/** A CAN device as its first heartbeat leaves it: known, online, relay state unknown. */
export function canDevice({ registry, canNodes }: Pick<UnitRegistry, 'registry' | 'canNodes'>, node: number): Device {
  canNodes.handle({ type: 'heartbeat', node, state: 'running', protocol: 1, firmware: '1.0', uptime: 10 });
  return registry.canNode(node)!;
}

export interface UnitBus {
  can: CanBus;
  /** What the peer (the nodes) received, decoded. */
  received: Message[];
  /** Puts a frame on the bus as a node would. */
  send(message: Message): void;
  /** From now on the nodes answer every command with this result (undefined: they stay silent). */
  answer(result: ReplyResultName | undefined): void;
}

/** The gateway's CanBus on a simulated bus, with a peer endpoint standing in for the nodes. */
export async function unitBus(t: TestContext): Promise<UnitBus> {
  const bus = new VirtualBus();
  const can = new CanBus(new SimTransport(bus), 'v1', silentLogger);
  await can.start();
  const received: Message[] = [];
  let answer: ReplyResultName | undefined;
  const status = { relay: true, humidityLatched: false, powerLatched: false, sensorFault: false };
  const peer = bus.attach((frame) => {
    const decoded = decode(frame);
    if (!decoded.ok) return;
    const message = decoded.message;
    received.push(message);
    if (message.type === 'command' && answer !== undefined) {
      const { node, token, command } = message;
      peer.send(encode({ type: 'reply', node, token, opcode: opcodeOf(command), result: answer, status, detail: 0 }));
    }
  });
  t.after(async () => {
    peer.detach();
    await can.stop();
  });
  return {
    can,
    received,
    send: (message) => peer.send(encode(message)),
    answer: (result) => (answer = result),
  };
}

/**
 * The main thread's safety rule, started, with the safety worker thread stood in for by one that
 * agrees to every request and holds nothing: only this thread's rule decides (the worker has tests
 * of its own, with whole gateways).
 */
export async function unitSafety(
  t: TestContext,
  parts: { registry: Registry; events: EventBus; control: DeviceControl; commands: Commands },
  safetyConfig: Record<string, unknown> = {},
): Promise<Safety> {
  const config = parseConfig({ safety: safetyConfig });
  const safety = new Safety({
    ...parts,
    config: config.safety,
    can: config.can,
    wifiReportPeriodMs: config.udp.report_period_ms,
    log: silentLogger,
  });
  t.mock.method(safety.worker, 'start', async () => {});
  t.mock.method(safety.worker, 'stop', async () => {});
  t.mock.method(safety.worker, 'ask', async () => undefined);
  await safety.start();
  t.after(() => safety.stop());
  return safety;
}

/** A health report of the documented schema (every count 0, nothing up) with the given parts changed. */
export function healthReport(change: Partial<HealthReport> = {}): HealthReport {
  return { ...Value.Create(HealthReport), ...change };
}
