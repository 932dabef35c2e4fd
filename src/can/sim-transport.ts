/**
 * The `sim` transport: a virtual CAN bus. Every frame sent by one endpoint is delivered to all the
 * others (never back to its sender), asynchronously, in order, like a real bus. The bus spans the
 * process's threads: a VirtualBus with the same name in another thread (the safety worker, a test's
 * node thread) is the same bus, and frames reach it through a BroadcastChannel, so that thread sees
 * the bus even while this thread's event loop is stalled.
 */
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import type { CanFrame } from './frame.js';
import { Transport, type TransportStats } from './transport.js';

type Receiver = (frame: CanFrame) => void;

/**
 * Frames cross to the other threads packed, 16 bytes each (id u32, flags, length, 2 spare, 8 data
 * bytes), all those sent in one synchronous turn in one message: a message per frame (an object and
 * a Uint8Array cloned each time) was a fifth of the gateway's CPU at 8,000 frames/s (bench/README.md).
 */
const WIRE_BYTES = 16;
const EXT = 1;
const RTR = 2;
const ERR = 4;

function pack(frames: CanFrame[]): Uint8Array {
  const out = Buffer.alloc(frames.length * WIRE_BYTES);
  frames.forEach((f, i) => {
    const at = i * WIRE_BYTES;
    out.writeUInt32LE(f.id >>> 0, at);
    out[at + 4] = (f.ext ? EXT : 0) | (f.rtr ? RTR : 0) | (f.err ? ERR : 0);
    out[at + 5] = f.data.length;
    out.set(f.data.subarray(0, 8), at + 8);
  });
  return out;
}

function unpack(wire: Uint8Array): CanFrame[] {
  const buf = Buffer.from(wire.buffer, wire.byteOffset, wire.byteLength);
  const frames: CanFrame[] = [];
  for (let at = 0; at + WIRE_BYTES <= buf.length; at += WIRE_BYTES) {
    const flags = buf[at + 4];
    const frame: CanFrame = { id: buf.readUInt32LE(at), data: Buffer.from(buf.subarray(at + 8, at + 8 + buf[at + 5])) };
    if (flags & EXT) frame.ext = true;
    if (flags & RTR) frame.rtr = true;
    if (flags & ERR) frame.err = true;
    frames.push(frame);
  }
  return frames;
}

export class VirtualBus {
  /** Endpoints in this thread. */
  private readonly endpoints = new Set<Receiver>();
  private queue: { from: Receiver | undefined; frame: CanFrame }[] = [];
  private scheduled = false;
  /** Joined while this thread has an endpoint, so an unused bus keeps no thread alive. */
  private channel: BroadcastChannel | undefined;
  /** Frames for the other threads, sent together once the current synchronous turn ends. */
  private outgoing: CanFrame[] = [];

  /** `name` joins the bus of that name in every thread of the process; by default a new bus. */
  constructor(readonly name: string = `canplug-bus-${randomUUID()}`) {}

  /** Joins the bus; returns the function that puts a frame on it. */
  attach(receive: Receiver): { send: (frame: CanFrame) => void; detach: () => void } {
    this.endpoints.add(receive);
    this.join();
    return {
      send: (frame) => this.transmit(receive, frame),
      detach: () => {
        this.endpoints.delete(receive);
        if (this.endpoints.size === 0) this.leave();
      },
    };
  }

  private join(): void {
    if (this.channel) return;
    const channel = new BroadcastChannel(this.name);
    channel.onmessage = (event) => {
      for (const frame of unpack(event.data as Uint8Array)) this.queue.push({ from: undefined, frame });
      this.schedule();
    };
    // A daemon's bus must not keep the process alive after everything else has stopped.
    channel.unref();
    this.channel = channel;
  }

  private leave(): void {
    this.channel?.close();
    this.channel = undefined;
  }

  private transmit(from: Receiver, frame: CanFrame): void {
    const copy = { ...frame, data: Buffer.from(frame.data) };
    if (this.channel) {
      // A microtask, not setImmediate: the other threads get the frames as soon as this turn's code
      // returns, before any other callback could stall this thread (the safety worker relies on it).
      if (this.outgoing.length === 0) queueMicrotask(() => this.postOutgoing());
      this.outgoing.push(copy);
    }
    this.queue.push({ from, frame: copy });
    this.schedule();
  }

  private postOutgoing(): void {
    const frames = this.outgoing;
    this.outgoing = [];
    this.channel?.postMessage(pack(frames));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.deliver());
  }

  private deliver(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const { from, frame } of batch) {
      for (const endpoint of this.endpoints) if (endpoint !== from) endpoint(frame);
    }
  }
}

/** The gateway's side of a virtual bus. */
export class SimTransport extends Transport {
  readonly name = 'sim';
  private link: { send: (frame: CanFrame) => void; detach: () => void } | undefined;
  private counters = { received: 0, sent: 0, dropped: 0, busErrors: 0 };

  constructor(readonly bus: VirtualBus) {
    super();
  }

  async start(): Promise<void> {
    this.link = this.bus.attach((frame) => {
      this.counters.received++;
      this.emit('frame', frame);
    });
    this.emit('up');
  }

  async stop(): Promise<void> {
    this.link?.detach();
    this.link = undefined;
  }

  send(frame: CanFrame): boolean {
    if (!this.link) {
      this.counters.dropped++;
      return false;
    }
    this.counters.sent++;
    this.link.send(frame);
    return true;
  }

  stats(): TransportStats {
    return { ...this.counters, up: this.link !== undefined };
  }
}
