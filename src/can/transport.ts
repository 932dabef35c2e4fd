import { EventEmitter } from 'node:events';
import type { CanFrame } from './frame.js';
import type { ReceiveQueueReport } from './receive-queue.js';

export interface TransportEvents {
  /** A frame from the bus (never one this transport sent itself). */
  frame: [CanFrame];
  /** The interface came up (first start or after a reconnect). */
  up: [];
  /** The interface went away; the transport keeps trying to reconnect. */
  down: [reason: string];
  /** Controller-reported problem (error frame, bus-off, dropped frames). */
  busError: [kind: string];
}

export interface TransportStats {
  received: number;
  sent: number;
  dropped: number;
  busErrors: number;
  up: boolean;
  /** Frames the kernel dropped because the socket's receive queue was full (kernel sockets only). */
  kernelDrops?: number;
  /** The socket's receive queue against what one second of a full bus needs (kernel sockets only). */
  receiveQueue?: ReceiveQueueReport;
}

/**
 * Only src/can talks to a bus. Everything above sees frames through this interface,
 * so a test can swap SocketCAN for the simulated bus with no other change.
 */
export abstract class Transport extends EventEmitter<TransportEvents> {
  abstract readonly name: string;
  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;
  /** Queues a frame for the bus; false when the bus is down or its queue is full (counted as dropped). */
  abstract send(frame: CanFrame): boolean;
  abstract stats(): TransportStats;
}
