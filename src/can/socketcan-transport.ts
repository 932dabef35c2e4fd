/**
 * Transport on a Linux SocketCAN interface (can0, vcan0, ...) through the optional `socketcan`
 * npm addon. The addon is imported only in start(), so a gateway on the simulated bus installs
 * and runs without it. The transport survives its interface going down, being deleted and being
 * re-created: it reports `down`, retries with a capped back-off and reports `up` again.
 */
import { createRequire } from 'node:module';
import type { CanFrame } from './frame.js';
import { interfaceState } from './can-interfaces.js';
import { describeErrorFrame } from './error-frame.js';
import type { CanFilter } from './filters.js';
import {
  KernelDropCounter,
  receiveQueueBytes,
  reviewReceiveQueue,
  type ReceiveBufferResult,
  type ReceiveQueueReport,
} from './receive-queue.js';
import { Transport, type TransportStats } from './transport.js';

// linux/can.h
const CAN_EFF_FLAG = 0x80000000;
const CAN_RTR_FLAG = 0x40000000;
const CAN_ERR_MASK = 0x1fffffff;
const CAN_SFF_MASK = 0x7ff;
const CAN_EFF_MASK = 0x1fffffff;

/** The part of the addon's RawChannel this transport uses (the package's own typings need an ambient module). */
interface AddonMessage {
  id: number;
  data: Buffer;
  ext?: boolean;
  rtr?: boolean;
  err?: boolean;
}
export interface RawChannel {
  addListener(event: 'onMessage', listener: (msg: AddonMessage) => void): void;
  addListener(event: 'onStopped', listener: () => void): void;
  start(): void;
  stop(): void;
  /** Bytes written, or -1 (ENOBUFS when the device queue is full, ENETDOWN...). */
  send(msg: { id: number; data: Buffer; ext: boolean; rtr: boolean }): number;
  setRxFilters(filters: { id: number; mask: number; invert?: boolean }[]): void;
  setErrorFilters(mask: number): void;
  /** Sizes the kernel's receive queue (canplug's patch of the addon, patches/socketcan+4.0.7.patch). */
  setReceiveBuffer(bytes: number): ReceiveBufferResult;
  /** The kernel's count of frames dropped on a full receive queue (SO_MEMINFO, else as of the last frame read: SO_RXQ_OVFL; the patch). */
  getDropCount(): number;
}
export interface SocketCanAddon {
  createRawChannelWithOptions(name: string, options: { timestamps?: boolean; non_block_send?: boolean }): RawChannel;
}

export interface SocketCanOptions {
  /** e.g. can0 */
  interface: string;
  /** Kernel receive filters for 11-bit data frames (see filters.ts); omitted: every frame. */
  filters?: readonly CanFilter[];
  /** Frames waiting for room in the device queue before send() refuses (default 256). */
  maxQueue?: number;
  /** Upper bound of the reconnect back-off (default 2000 ms). */
  maxBackoffMs?: number;
  /** How often the interface's sysfs state is checked while up (default 1000 ms). */
  pollMs?: number;
  /** Bus bitrate: the receive queue is sized for one second of a full bus at this rate (default 125000). */
  bitrate?: number;
  /** For tests: replaces `import('socketcan')`. */
  loadAddon?: () => Promise<SocketCanAddon>;
}

export { interfaceState, listCanInterfaces, type InterfaceState } from './can-interfaces.js';
export { describeErrorFrame } from './error-frame.js';

export interface SocketCanStats extends TransportStats {
  interface: string;
  /** Frames waiting in the bounded outgoing queue. */
  queued: number;
  reconnects: number;
  /** Why the transport is down (undefined while up). */
  downReason?: string;
}

/** The build of patches/socketcan+4.0.7.patch the transport needs: 2 = channels usable from worker threads, 3 = a GC-freed channel cannot abort the process. */
export const SOCKETCAN_PATCH_LEVEL = 3;
const CAN_RAW = 1; // linux/can.h

interface NativeAddon {
  RawChannel?: new (iface: string, timestamps: boolean, protocol: number, nonBlockingSend: boolean) => RawChannel;
  canplugPatch?: number;
}

/**
 * Loads the optional addon's channel (its native `can.node`); the error names the package and the
 * interface it was needed for. Only the channel: the package's entry also loads its signal decoder
 * (an addon that cannot load in a worker thread) and a KCD parser, neither of which canplug uses.
 */
export async function loadSocketcanAddon(iface: string, name = 'socketcan'): Promise<SocketCanAddon> {
  const require = createRequire(import.meta.url);
  const fail = (why: string, cause?: unknown) => new Error(`SocketCAN transport cannot open CAN interface "${iface}": ${why}`, { cause });
  try {
    require.resolve(`${name}/package.json`);
  } catch (err) {
    throw fail(
      `the optional npm package "${name}" is not installed (npm install ${name}; it builds a native addon and needs python3, make and g++)`,
      err,
    );
  }
  let native: NativeAddon;
  try {
    native = require(`${name}/build/Release/can.node`) as NativeAddon;
  } catch (err) {
    throw fail(`the optional npm package "${name}" failed to load (npm rebuild ${name}): ${(err as Error).message}`, err);
  }
  const RawChannelClass = native.RawChannel;
  // Without the patch frames dropped on a full receive queue would go unseen, and a channel opened in
  // the safety worker would hand its frames to the main thread: refuse, and say how to fix it.
  if (typeof RawChannelClass !== 'function' || (native.canplugPatch ?? 0) < SOCKETCAN_PATCH_LEVEL) {
    throw fail(
      `the "${name}" addon was built without canplug's patch (patches/socketcan+4.0.7.patch: receive queue size, ` +
        `kernel drop count, worker threads); run npm install, or node scripts/patch-socketcan.mjs`,
    );
  }
  return {
    createRawChannelWithOptions: (channel, options) =>
      new RawChannelClass(channel, options.timestamps ?? false, CAN_RAW, options.non_block_send ?? false),
  };
}

export class SocketCanTransport extends Transport {
  readonly name: string;
  private readonly opts: Required<Omit<SocketCanOptions, 'filters' | 'loadAddon'>> & Pick<SocketCanOptions, 'filters' | 'loadAddon'>;
  private readonly drops = new KernelDropCounter();
  private receiveQueue: ReceiveQueueReport;
  private addon?: SocketCanAddon;
  private channel?: RawChannel;
  /** Kept until the next retirement so its libuv handles finish closing before GC can free them. */
  private retired?: RawChannel;
  private generation = 0;
  private channelGen = 0;
  private running = false;
  private isUp = false;
  private ifindex = 0;
  private downReason?: string = 'not started';
  private inOutage = false;
  private everUp = false;
  private backoffMs = 100;
  private reconnectTimer?: NodeJS.Timeout;
  private pollTimer?: NodeJS.Timeout;
  private flushTimer?: NodeJS.Timeout;
  private readonly queue: CanFrame[] = [];
  private counters = { received: 0, sent: 0, dropped: 0, busErrors: 0, reconnects: 0 };

  constructor(options: SocketCanOptions) {
    super();
    if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(options.interface) || /^\.\.?$/.test(options.interface)) {
      throw new Error(`"${options.interface}" is not a network interface name`);
    }
    if (options.filters && options.filters.length === 0) throw new Error('an empty filter list would receive nothing');
    this.opts = { maxQueue: 256, maxBackoffMs: 2000, pollMs: 1000, bitrate: 125_000, ...options };
    this.name = `socketcan:${options.interface}`;
    this.receiveQueue = { wanted: receiveQueueBytes(this.opts.bitrate) };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.addon = await (this.opts.loadAddon ?? (() => loadSocketcanAddon(this.opts.interface)))();
    this.running = true;
    this.pollTimer = setInterval(() => this.poll(), this.opts.pollMs).unref();
    // A missing or down interface is not fatal: systemd often starts us before can0 is configured.
    this.tryConnect();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    this.retire();
    this.isUp = false;
    this.inOutage = false;
    this.downReason = 'stopped';
  }

  send(frame: CanFrame): boolean {
    const max = frame.ext ? CAN_EFF_MASK : CAN_SFF_MASK;
    if (!Number.isInteger(frame.id) || frame.id < 0 || frame.id > max || frame.data.length > 8 || frame.err) {
      throw new RangeError(
        `cannot send id 0x${frame.id.toString(16)} with ${frame.data.length} bytes${frame.err ? ' as error frame' : ''}`,
      );
    }
    if (!this.isUp || this.queue.length >= this.opts.maxQueue) {
      this.counters.dropped++;
      return false;
    }
    if (this.queue.length === 0 && this.write(frame)) return true;
    // The device queue is full (ENOBUFS): keep the frame, in order, and retry shortly.
    this.queue.push(frame);
    this.flushTimer ??= setTimeout(() => this.flush(), 5);
    return true;
  }

  stats(): SocketCanStats {
    this.readDrops();
    return {
      ...this.counters,
      kernelDrops: this.drops.total,
      up: this.isUp,
      interface: this.opts.interface,
      queued: this.queue.length,
      downReason: this.isUp ? undefined : this.downReason,
      receiveQueue: this.receiveQueue,
    };
  }

  private readDrops(): void {
    const count = this.channel?.getDropCount();
    if (count !== undefined) this.drops.observe(count);
  }

  private write(frame: CanFrame): boolean {
    const ok = this.channel!.send({ id: frame.id, data: frame.data, ext: !!frame.ext, rtr: !!frame.rtr }) > 0;
    if (ok) this.counters.sent++;
    return ok;
  }

  private flush(): void {
    this.flushTimer = undefined;
    while (this.isUp && this.queue.length > 0 && this.write(this.queue[0])) this.queue.shift();
    if (this.isUp && this.queue.length > 0) this.flushTimer = setTimeout(() => this.flush(), 5);
  }

  private tryConnect(): void {
    this.reconnectTimer = undefined;
    if (!this.running) return;
    const iface = this.opts.interface;
    const state = interfaceState(iface);
    let channel: RawChannel | undefined;
    try {
      if (!state.exists) throw new Error(`interface ${iface} does not exist`);
      if (!state.up) throw new Error(`interface ${iface} is down (operstate ${state.operstate})`);
      channel = this.addon!.createRawChannelWithOptions(iface, { timestamps: false, non_block_send: true });
      // EFF and RTR in the mask: only 11-bit data frames pass, whatever their low bits.
      const flags = CAN_EFF_FLAG | CAN_RTR_FLAG;
      if (this.opts.filters) channel.setRxFilters(this.opts.filters.map((f) => ({ id: f.id, mask: (f.mask | flags) >>> 0 })));
      channel.setErrorFilters(CAN_ERR_MASK);
      this.receiveQueue = reviewReceiveQueue(this.receiveQueue.wanted, channel.setReceiveBuffer(this.receiveQueue.wanted / 2));
      // The addon keeps its listeners in persistent (GC-root) handles: a listener that captured the
      // channel would keep it, and its socket, alive forever. A generation number names it instead.
      const gen = ++this.generation;
      channel.addListener('onMessage', (msg) => this.onMessage(gen, msg));
      channel.addListener('onStopped', () => this.onStopped(gen));
      channel.start();
    } catch (err) {
      if (channel) this.silence(channel);
      this.markDown(`${(err as Error).message}`.replace(/^Error while creating channel$/, `cannot open ${iface}`));
      this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
      this.reconnectTimer = setTimeout(() => this.tryConnect(), this.backoffMs);
      return;
    }
    if (this.everUp) this.counters.reconnects++;
    this.everUp = true;
    this.inOutage = false;
    this.channel = channel;
    this.drops.newSocket();
    this.channelGen = this.generation;
    this.ifindex = state.ifindex;
    this.isUp = true;
    this.downReason = undefined;
    this.backoffMs = 100;
    this.emit('up');
  }

  private onMessage(gen: number, msg: AddonMessage): void {
    if (gen !== this.channelGen || !this.channel) return;
    if (msg.err) {
      this.counters.busErrors++;
      this.emit('busError', describeErrorFrame(msg).join(','));
      return;
    }
    this.counters.received++;
    const frame: CanFrame = { id: msg.id, data: msg.data };
    if (msg.ext) frame.ext = true;
    if (msg.rtr) frame.rtr = true;
    this.emit('frame', frame);
  }

  /** The addon's reader saw POLLERR/POLLHUP: the kernel reported ENETDOWN (down) or ENODEV (deleted). */
  private onStopped(gen: number): void {
    const ch = this.channel;
    if (gen !== this.channelGen || !ch || !this.running) return;
    this.readDrops();
    // The addon is inside its own stop path: forget the channel first so retire() won't stop() it again.
    this.channel = undefined;
    this.retired = ch;
    this.goDown(this.describeLoss());
  }

  private poll(): void {
    if (!this.isUp) return;
    const state = interfaceState(this.opts.interface);
    if (!state.exists || !state.up || state.ifindex !== this.ifindex) this.goDown(this.describeLoss(state));
  }

  private describeLoss(state = interfaceState(this.opts.interface)): string {
    const iface = this.opts.interface;
    if (!state.exists) return `interface ${iface} was removed`;
    if (state.ifindex !== this.ifindex) return `interface ${iface} was re-created`;
    if (!state.up) return `interface ${iface} went down (operstate ${state.operstate})`;
    return `socket on ${iface} reported an error`;
  }

  private goDown(reason: string): void {
    if (!this.isUp || !this.running) return;
    this.retire();
    this.isUp = false;
    this.markDown(reason);
    this.backoffMs = 100;
    this.reconnectTimer = setTimeout(() => this.tryConnect(), this.backoffMs);
  }

  /** One `down` per outage (including a start without the interface), not one per failed retry. */
  private markDown(reason: string): void {
    this.downReason = reason;
    if (this.inOutage) return;
    this.inOutage = true;
    this.emit('down', reason);
  }

  /** Stops the current channel; frames still queued for it can no longer go out and count as dropped. */
  private retire(): void {
    this.readDrops();
    const ch = this.channel;
    this.channel = undefined;
    this.counters.dropped += this.queue.length;
    this.queue.length = 0;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (ch) {
      try {
        ch.stop();
      } catch {
        // Already stopped by its reader thread.
      }
      this.silence(ch);
    } else if (this.retired) {
      this.silence(this.retired);
    }
  }

  /**
   * The addon closes a channel's socket only when GC collects it; until then the kernel would keep
   * queueing frames for it. An inverted match-all filter matches nothing, so it stops receiving now.
   */
  private silence(ch: RawChannel): void {
    this.retired = ch;
    try {
      ch.setRxFilters([{ id: 0, mask: 0, invert: true }]);
      ch.setErrorFilters(0);
    } catch {
      // The socket went with its interface: nothing left to silence.
    }
  }
}
