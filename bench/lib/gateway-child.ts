/**
 * A benchmark child process, driven over IPC by bench/lib/gateway-process.ts, so the gateway's CPU
 * time and memory are its own and not the measuring side's. Two roles:
 * - `gateway`: a whole Gateway from a config; on the sim transport the frame source is a part of
 *   the simulated bus (an endpoint of its VirtualBus, as a socket's frames would arrive);
 * - `source`: only the frame source, on a SocketCAN interface (the vcan benchmark's second socket).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, PerformanceObserver, constants } from 'node:perf_hooks';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseConfig } from '../../src/config/config.js';
import { Gateway } from '../../src/daemon/gateway.js';
import { SocketCanTransport } from '../../src/can/socketcan-transport.js';
import { decode } from '../../src/can/codec.js';
import type { CanFrame } from '../../src/can/frame.js';
import { DatagramBridge, datagramBusLink } from './datagram-bus.js';
import { VirtualBus } from '../../src/can/sim-transport.js';
import { silentLogger } from '../../src/log.js';
import { startNodeThread } from '../../test/helpers/node-thread.js';
import { stallEventLoop } from '../../test/helpers/stall.js';
import { FrameSource } from './frame-source.js';
import { now, sleep } from './stats.js';
import type { ChildReply, ChildRequest, Envelope, Measurement } from './gateway-process.js';

let gateway: Gateway | undefined;
let transport: SocketCanTransport | undefined;
let source: FrameSource | undefined;
let bridge: DatagramBridge | undefined;
/** Source role: what the gateway put on the bus, for the trips. */
let onBusFrame: (frame: CanFrame) => void = () => {};
const commands: Extract<ChildReply, { type: 'commands' }>['commands'] = [];

let mark = { cpu: process.cpuUsage(), at: performance.now(), rssStart: process.memoryUsage().rss };
/** Peak RSS since the mark: getrusage's peak when the mark is the process's first (a fresh process per run), else sampled. */
let rssPeak = 0;
let marks = 0;
// Sampled rarely: reading RSS costs a /proc read, which must not show in the gateway's profile.
const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 500);
sampler.unref();

/**
 * Event-loop delay (how late a 20 ms timer fires: a finer one would add its own wake-ups to the CPU
 * measured), GC pauses and the longest database flush since the mark: the gateway's own stalls.
 */
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
let gc = { count: 0, totalMs: 0, maxMs: 0, majorCount: 0, majorMaxMs: 0 };
let flushMaxMs = 0;
let switches = process.resourceUsage().involuntaryContextSwitches;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.count++;
    gc.totalMs += entry.duration;
    gc.maxMs = Math.max(gc.maxMs, entry.duration);
    if ((entry.detail as { kind?: number } | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      gc.majorCount++;
      gc.majorMaxMs = Math.max(gc.majorMaxMs, entry.duration);
    }
  }
}).observe({ entryTypes: ['gc'] });

/**
 * With CANPLUG_BENCH_PROFILE_DIR set, each run is profiled (V8's sampling profiler, as node
 * --cpu-prof, but only from the run's start to the next measurement: no start-up in the profile).
 */
const profileDir = process.env.CANPLUG_BENCH_PROFILE_DIR;
let profiler: Session | undefined;

async function startProfile(): Promise<void> {
  if (!profileDir) return;
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
  await profiler.post('Profiler.start');
}

async function stopProfile(): Promise<void> {
  const session = profiler;
  if (!session) return;
  profiler = undefined;
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(join(profileDir!, `gateway-${process.pid}-${Date.now()}.cpuprofile`), JSON.stringify(profile));
  session.disconnect();
}

function measure(): Measurement {
  const cpu = process.cpuUsage(mark.cpu);
  const rss = process.memoryUsage.rss();
  const maxRss = process.resourceUsage().maxRSS * 1024;
  rssPeak = Math.max(rssPeak, rss, marks === 1 ? maxRss : 0);
  return {
    cpuMs: (cpu.user + cpu.system) / 1000,
    wallMs: performance.now() - mark.at,
    rssStart: mark.rssStart,
    rssPeak,
    rssEnd: rss,
    heapUsed: process.memoryUsage().heapUsed,
    maxRss,
    readingsWritten: gateway?.parts.writer.health().readingsWritten ?? 0,
    framesReceived: gateway?.parts.can.counters.received ?? 0,
    framesLost: gateway?.parts.canNodes.framesLost ?? 0,
    kernelDrops: bridge?.drops() ?? gateway?.parts.can.transport.stats().kernelDrops ?? 0,
    published: gateway?.parts.mqtt.published ?? 0,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
    gc: { ...gc },
    flushMaxMs,
    involuntarySwitches: process.resourceUsage().involuntaryContextSwitches - switches,
  };
}

function resetMark(): void {
  const rss = process.memoryUsage.rss();
  mark = { cpu: process.cpuUsage(), at: performance.now(), rssStart: rss };
  rssPeak = rss;
  marks++;
  loopDelay.reset();
  gc = { count: 0, totalMs: 0, maxMs: 0, majorCount: 0, majorMaxMs: 0 };
  flushMaxMs = 0;
  switches = process.resourceUsage().involuntaryContextSwitches;
}

async function start(request: Extract<ChildRequest, { type: 'start' }>): Promise<ChildReply> {
  const t0 = performance.now();
  if (request.role === 'source' && request.busPort !== undefined) {
    const link = await datagramBusLink(request.busPort, (frame) => onBusFrame(frame));
    source = new FrameSource({ nodes: request.sourceNodes, send: link.send });
    source.start();
    return { type: 'ready', startMs: performance.now() - t0 };
  }
  if (request.role === 'source') {
    transport = new SocketCanTransport({ interface: request.iface ?? 'vcan0', maxQueue: 4096 });
    transport.on('frame', (frame) => onBusFrame(frame));
    await transport.start();
    const t = transport;
    source = new FrameSource({
      nodes: request.sourceNodes,
      send: (frame) => void t.send(frame),
      burst: 50,
      // Flat out on a socket: wait for the transport's own queue to empty before the next burst.
      yieldTurn: async () => {
        do await new Promise<void>((r) => setImmediate(r));
        while (t.stats().queued > 0);
      },
    });
    source.start();
    return { type: 'ready', startMs: performance.now() - t0 };
  }
  const config = parseConfig(request.config, {});
  const bus = request.udpBus ? new VirtualBus() : undefined;
  gateway = new Gateway({ config, log: silentLogger, bus });
  await gateway.start();
  if (bus) {
    bridge = new DatagramBridge(bus, request.udpBus!.bitrate);
    await bridge.start();
  }
  const startMs = performance.now() - t0;
  const onFlush = gateway.parts.writer.onFlush;
  gateway.parts.writer.onFlush = (readings, ms) => {
    flushMaxMs = Math.max(flushMaxMs, ms);
    onFlush(readings, ms);
  };
  for (const socket of gateway.parts.sim.sockets) {
    socket.onCommand = (command, at) =>
      commands.push({
        node: socket.node,
        op: command.op,
        action: 'action' in command ? command.action : undefined,
        at: performance.timeOrigin + at,
      });
  }
  const virtualBus = gateway.parts.sim.bus;
  if (virtualBus && request.sourceNodes.length > 0) {
    const link = virtualBus.attach(() => {});
    source = new FrameSource({ nodes: request.sourceNodes, send: link.send });
    source.start();
  }
  const token = gateway.parts.tokens ? readFileSync(gateway.parts.tokens.path, 'utf8').trim() : '';
  return { type: 'ready', startMs, httpUrl: gateway.httpUrl(), mqttUrl: gateway.mqttUrl(), token, busPort: bridge?.port };
}

/** How long after the flood a trip's open command is still waited for. */
const TRIP_GRACE_MS = 5000;

/** Source role: see the `flood-trips` request. Each node trips once (its latch stays: no reset needed). */
async function floodTrips(request: Extract<ChildRequest, { type: 'flood-trips' }>): Promise<number[]> {
  const src = source!;
  const sentAt = new Map<number, number>();
  const ms: number[] = [];
  onBusFrame = (frame) => {
    const result = decode(frame);
    if (!result.ok || result.message.type !== 'command') return;
    const { node, command } = result.message;
    const t0 = sentAt.get(node);
    if (t0 === undefined || command.op !== 'setRelay' || command.action !== 'open') return;
    ms.push(now() - t0);
    sentAt.delete(node);
  };
  const flood = src.run({ rate: request.rate, frames: Math.round(request.rate * request.seconds) });
  for (const node of request.nodes) {
    await sleep(request.everyMs);
    sentAt.set(node, now());
    src.send(src.environmentFrame(node, 85));
  }
  await flood;
  for (let waited = 0; sentAt.size > 0 && waited < TRIP_GRACE_MS; waited += 50) await sleep(50);
  onBusFrame = () => {};
  // A trip with no open command at all is reported as -1 (the measuring side counts them as missed).
  return [...ms, ...[...sentAt.keys()].map(() => -1)];
}

/**
 * Humidity trips of simulated socket 1, its own interlock off so only the gateway's backup rule acts:
 * the delay from the socket putting its over-limit environment frame on the bus to the open command
 * reaching it. After each trip the humidity drops, a person's reset and a close re-arm it.
 */
async function trips(count: number): Promise<number[]> {
  const g = gateway!;
  const socket = g.parts.sim.sockets.find((s) => s.node === 1);
  const device = g.parts.registry.canNode(1);
  if (!socket || !device) throw new Error('trips need simulated socket 1, online');
  socket.interlockEnabled = false;
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    socket.setHumidity(85);
    const opened = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`trip ${i}: no open command within 5 s`)), 5000);
      const recordCommand = socket.onCommand;
      socket.onCommand = (command, at) => {
        recordCommand(command, at);
        if (command.op !== 'setRelay' || command.action !== 'open') return;
        clearTimeout(timer);
        socket.onCommand = recordCommand;
        resolve(at);
      };
    });
    const t0 = performance.now();
    socket.reportNow();
    ms.push((await opened) - t0);
    socket.setHumidity(40);
    socket.reportNow();
    await sleep(30);
    await g.parts.safety.reset(device, 'cli');
    await g.parts.control.setRelay(device, 'close', 'cli');
    await sleep(20);
  }
  return ms;
}

/** Trips of nodes in their own thread, 500 ms into a busy stall of this (the gateway's main) thread. */
async function stalledTrips(nodes: number[], stallMs: number, nodeThreadModule: string): Promise<number[]> {
  const g = gateway!;
  const thread = await startNodeThread(g.parts.sim.bus!.name, nodes, nodeThreadModule);
  try {
    await sleep(1500); // the nodes boot and announce themselves
    const trips = thread.trip(nodes, 500, 20);
    stallEventLoop(stallMs);
    return (await trips).map((t) => t.ms);
  } finally {
    await thread.stop();
  }
}

async function handle(request: ChildRequest): Promise<ChildReply | undefined> {
  switch (request.type) {
    case 'start':
      return start(request);
    case 'run': {
      if (!source) throw new Error('no frame source in this process');
      await startProfile();
      resetMark();
      const result = await source.run(request);
      const file = join(tmpdir(), `canplug-bench-send-${process.pid}-${Date.now()}.bin`);
      writeFileSync(file, Buffer.from(result.sendTimes.buffer));
      return { type: 'ran', sent: result.sent, startedAt: result.startedAt, endedAt: result.endedAt, sendTimesFile: file };
    }
    case 'ack':
      if (source) source.acknowledged = request.received;
      return undefined;
    case 'mark':
      resetMark();
      return { type: 'marked', at: now() };
    case 'measure': {
      const measurement = measure();
      await stopProfile();
      return { type: 'measured', measurement };
    }
    case 'flush':
      gateway?.parts.writer.flush();
      return { type: 'measured', measurement: measure() };
    case 'commands':
      return { type: 'commands', commands: commands.splice(0) };
    case 'trips':
      return { type: 'trips', ms: await trips(request.count) };
    case 'flood-trips':
      return { type: 'trips', ms: await floodTrips(request) };
    case 'stalledTrips':
      return { type: 'trips', ms: await stalledTrips(request.nodes, request.stallMs, request.nodeThreadModule) };
    case 'stop':
      source?.stop();
      bridge?.stop();
      await gateway?.stop();
      await transport?.stop();
      return { type: 'stopped' };
  }
}

process.on('message', (request: Envelope<ChildRequest>) => {
  // Each request is handled as it comes: an ack or a measurement arrives while a run is under way.
  handle(request).then(
    async (answer) => {
      if (answer) process.send!({ ...answer, id: request.id });
      if (answer?.type === 'stopped') {
        await sleep(10);
        process.exit(0);
      }
    },
    (error: Error) => process.send!({ type: 'error', message: error.stack ?? error.message, id: request.id }),
  );
});
process.on('disconnect', () => process.exit(0));
