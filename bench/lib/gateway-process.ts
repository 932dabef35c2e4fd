/**
 * The measuring side of bench/lib/gateway-child.ts: forks the child (tsx loader, optional
 * --cpu-prof), starts it and talks to it one request at a time.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { childScript } from './compiled.js';
import { prioritize } from './bench-case.js';

export interface Measurement {
  cpuMs: number;
  wallMs: number;
  rssStart: number;
  rssPeak: number;
  rssEnd: number;
  heapUsed: number;
  /** Peak RSS over the process's life (getrusage). */
  maxRss: number;
  readingsWritten: number;
  framesReceived: number;
  framesLost: number;
  /** Frames the kernel dropped on the gateway's full socket queue (CAN or the UDP bus), since the process started. */
  kernelDrops: number;
  published: number;
  /** How late ready callbacks ran (the event loop blocked), since the mark. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Garbage-collection pauses since the mark. */
  gc: { count: number; totalMs: number; maxMs: number; majorCount: number; majorMaxMs: number };
  /** The longest batch write (one transaction) since the mark. */
  flushMaxMs: number;
  /** Times the OS took the CPU away from the gateway (other processes wanted it), since the mark. */
  involuntarySwitches: number;
}

export type ChildRequest =
  /** `udpBus`: the frames come from a source process over the datagram bus (datagram-bus.ts), queue sized for this bitrate. */
  | { type: 'start'; role: 'gateway'; config: Record<string, unknown>; sourceNodes: number[]; udpBus?: { bitrate: number } }
  /** The frame source on a CAN interface, or on the datagram bus to a gateway's port. */
  | { type: 'start'; role: 'source'; iface?: string; busPort?: number; sourceNodes: number[] }
  | { type: 'run'; rate: number; frames: number; window?: number }
  /** Flow control of a flat-out run: counted frames the subscriber has seen (no reply). */
  | { type: 'ack'; received: number }
  | { type: 'mark' }
  | { type: 'measure' }
  | { type: 'flush' }
  /** Commands the simulated sockets received since the last such request (when they arrived). */
  | { type: 'commands' }
  /** `count` humidity trips of simulated socket 1 with its own interlock off: frame -> open command, ms. */
  | { type: 'trips'; count: number }
  /**
   * Source role: counted frames at `rate` for `seconds`, and meanwhile an over-limit humidity frame
   * from each of `nodes` in turn every `everyMs`: ms from each to the gateway's open command for it.
   */
  | { type: 'flood-trips'; rate: number; seconds: number; nodes: number[]; everyMs: number }
  /**
   * Humidity trips of simulated sockets in a thread of their own (`nodes`), while the gateway's main
   * thread is stalled in a busy loop for `stallMs`: only the safety worker can answer in time.
   */
  | { type: 'stalledTrips'; nodes: number[]; stallMs: number; nodeThreadModule: string }
  | { type: 'stop' };

export type ChildReply =
  | { type: 'ready'; startMs: number; httpUrl?: string; mqttUrl?: string; token?: string; busPort?: number }
  | { type: 'ran'; sent: number; startedAt: number; endedAt: number; sendTimesFile: string }
  | { type: 'marked'; at: number }
  | { type: 'measured'; measurement: Measurement }
  | { type: 'commands'; commands: { node: number; op: string; action?: string; at: number }[] }
  | { type: 'trips'; ms: number[] }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

/** Requests and replies carry an id, so several can be under way (a source run and a measurement). */
export type Envelope<T> = T & { id: number };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface ChildOptions {
  /** Directory for V8 CPU profiles of the child's runs. */
  cpuProfDir?: string;
}

/**
 * Node flags the daemon runs with (package.json start, deploy/canplug.service): a 2 MB young
 * generation keeps RSS about 25 MB lower for a few per cent more CPU in scavenges; the old
 * generation collected once it grew 20 % past what the last collection kept (V8's default lets it
 * grow up to 4x: the garbage the small young generation promotes piled up to 40-90 MB, bench/README.md).
 */
const PRODUCTION_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=20'];
const SOURCE_CHILD = fileURLToPath(new URL('./gateway-child.ts', import.meta.url));

export class BenchProcess {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (reply: ChildReply) => void>();
  private nextId = 1;
  private exited = false;
  ready!: Extract<ChildReply, { type: 'ready' }>;

  constructor(options: ChildOptions = {}) {
    const env = { ...process.env, ...(options.cpuProfDir ? { CANPLUG_BENCH_PROFILE_DIR: options.cpuProfDir } : {}) };
    // The compiled child (dist/, no TypeScript loader) once prepareCompiled() ran; else the sources through tsx.
    const compiled = childScript();
    this.child = compiled
      ? fork(compiled, [], { execArgv: PRODUCTION_FLAGS, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : fork(SOURCE_CHILD, [], { execArgv: [...PRODUCTION_FLAGS, '--import', 'tsx'], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    prioritize(this.child.pid);
    this.child.on('message', (reply: Envelope<ChildReply>) => {
      const waiting = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      waiting?.(reply);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      for (const waiting of this.waiting.values()) waiting({ type: 'error', message: `bench child exited (${code ?? signal})` });
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  request(request: ChildRequest): Promise<ChildReply> {
    if (this.exited) return Promise.reject(new Error('bench child has exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (reply) => (reply.type === 'error' ? reject(new Error(reply.message)) : resolve(reply)));
      this.child.send({ ...request, id });
    });
  }

  async start(request: DistributiveOmit<Extract<ChildRequest, { type: 'start' }>, 'type'>): Promise<this> {
    const reply = await this.request({ type: 'start', ...request });
    if (reply.type !== 'ready') throw new Error(`unexpected reply ${reply.type}`);
    this.ready = reply;
    return this;
  }

  /** Starts a run; resolves when the source has sent every frame, with their send times. */
  /** Tells a flat-out source how far the subscriber got. */
  ack(received: number): void {
    if (!this.exited) this.child.send({ type: 'ack', received, id: 0 } satisfies Envelope<ChildRequest>);
  }

  async run(
    rate: number,
    frames: number,
    window?: number,
  ): Promise<{ sent: number; startedAt: number; endedAt: number; sendTimes: Float64Array }> {
    const reply = await this.request({ type: 'run', rate, frames, window });
    if (reply.type !== 'ran') throw new Error(`unexpected reply ${reply.type}`);
    const bytes = readFileSync(reply.sendTimesFile);
    rmSync(reply.sendTimesFile, { force: true });
    const sendTimes = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
    return { sent: reply.sent, startedAt: reply.startedAt, endedAt: reply.endedAt, sendTimes };
  }

  async measure(kind: 'measure' | 'flush' = 'measure'): Promise<Measurement> {
    const reply = await this.request({ type: kind });
    if (reply.type !== 'measured') throw new Error(`unexpected reply ${reply.type}`);
    return reply.measurement;
  }

  async commands(): Promise<Extract<ChildReply, { type: 'commands' }>['commands']> {
    const reply = await this.request({ type: 'commands' });
    if (reply.type !== 'commands') throw new Error(`unexpected reply ${reply.type}`);
    return reply.commands;
  }

  async stalledTrips(nodes: number[], stallMs: number): Promise<number[]> {
    // The child is bundled into a temporary directory: it is told where the node thread's module is.
    const nodeThreadModule = new URL('../../test/helpers/node-thread.ts', import.meta.url).href;
    const reply = await this.request({ type: 'stalledTrips', nodes, stallMs, nodeThreadModule });
    if (reply.type !== 'trips') throw new Error(`unexpected reply ${reply.type}`);
    return reply.ms;
  }

  async trips(count: number): Promise<number[]> {
    const reply = await this.request({ type: 'trips', count });
    if (reply.type !== 'trips') throw new Error(`unexpected reply ${reply.type}`);
    return reply.ms;
  }

  /** Source role: a flood at `rate` with a humidity trip of each node in turn; ms to each open command. */
  async floodTrips(rate: number, seconds: number, nodes: number[], everyMs: number): Promise<number[]> {
    const reply = await this.request({ type: 'flood-trips', rate, seconds, nodes, everyMs });
    if (reply.type !== 'trips') throw new Error(`unexpected reply ${reply.type}`);
    return reply.ms;
  }

  async mark(): Promise<void> {
    await this.request({ type: 'mark' });
  }

  /** Stops the gateway cleanly; kills the process if it does not exit within 10 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    this.request({ type: 'stop' }).catch(() => {});
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}
