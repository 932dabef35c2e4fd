/**
 * The `sim` transport: an in-process virtual CAN bus. Every frame sent by one endpoint is delivered
 * to all the others (never back to its sender), asynchronously, in order, like a real bus.
 */
import type { CanFrame } from './frame.js';
import { Transport, type TransportStats } from './transport.js';

type Receiver = (frame: CanFrame) => void;

export class VirtualBus {
  private readonly endpoints = new Set<Receiver>();
  private queue: { from: Receiver; frame: CanFrame }[] = [];
  private scheduled = false;

  /** Joins the bus; returns the function that puts a frame on it. */
  attach(receive: Receiver): { send: (frame: CanFrame) => void; detach: () => void } {
    this.endpoints.add(receive);
    return {
      send: (frame) => this.transmit(receive, frame),
      detach: () => this.endpoints.delete(receive),
    };
  }

  private transmit(from: Receiver, frame: CanFrame): void {
    this.queue.push({ from, frame: { ...frame, data: Buffer.from(frame.data) } });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.deliver());
    }
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
