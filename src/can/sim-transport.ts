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

/** A frame as it crosses to another thread (structured clone turns a Buffer into a Uint8Array). */
interface WireFrame {
  id: number;
  data: Uint8Array;
  ext?: boolean;
  rtr?: boolean;
  err?: boolean;
}

export class VirtualBus {
  /** Endpoints in this thread. */
  private readonly endpoints = new Set<Receiver>();
  private queue: { from: Receiver | undefined; frame: CanFrame }[] = [];
  private scheduled = false;
  /** Joined while this thread has an endpoint, so an unused bus keeps no thread alive. */
  private channel: BroadcastChannel | undefined;

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
      const wire: WireFrame = event.data;
      const frame: CanFrame = { ...wire, data: Buffer.from(wire.data.buffer, wire.data.byteOffset, wire.data.byteLength) };
      this.queue.push({ from: undefined, frame });
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
    // Its own small buffer: a pooled Buffer's view would clone the whole 8 KiB pool to the other thread.
    const wire: WireFrame = { ...frame, data: new Uint8Array(frame.data) };
    this.channel?.postMessage(wire);
    this.queue.push({ from, frame: { ...frame, data: Buffer.from(frame.data) } });
    this.schedule();
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
