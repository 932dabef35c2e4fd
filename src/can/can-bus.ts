/**
 * The gateway's view of the CAN bus: frames from a transport decoded into typed messages
 * (protocol v1 or the legacy seed profile), bad frames counted, commands encoded.
 * Nothing above src/can sees a raw frame.
 */
import { EventEmitter } from 'node:events';
import { CobBase, decode, encode, encodeCommand, type Command, type Message } from './codec.js';
import { decodeSeed, encodeSeedRelay, type SeedReading } from './seed-codec.js';
import type { CanFrame } from './frame.js';
import { formatFrame } from './frame.js';
import type { Transport } from './transport.js';
import type { Logger } from '../log.js';

export type Protocol = 'v1' | 'seed';

/** How often kernel drops are checked for the log (they are counted by the kernel, read here). */
const DROP_CHECK_MS = 10_000;

export interface CanBusEvents {
  message: [Message];
  seed: [SeedReading];
  up: [];
  down: [string];
}

export interface CanCounters {
  received: number;
  sent: number;
  unknown: number;
  malformed: number;
  busErrors: number;
  sendFailed: number;
  /** Frames decoded but not applied because a listener threw (logged once per distinct error). */
  handlerFailed: number;
}

export class CanBus extends EventEmitter<CanBusEvents> {
  readonly counters: CanCounters = { received: 0, sent: 0, unknown: 0, malformed: 0, busErrors: 0, sendFailed: 0, handlerFailed: 0 };
  private lastHandlerError: string | undefined;
  private readonly onFrame = (frame: CanFrame) => this.handle(frame);
  private readonly onUp = () => {
    const problem = this.transport.stats().receiveQueue?.problem;
    if (problem) this.log.warn(problem);
    this.emit('up');
  };
  private dropsLogged = 0;
  private dropCheck?: NodeJS.Timeout;
  private readonly onDown = (reason: string) => this.emit('down', reason);
  private readonly onBusError = (kind: string) => {
    this.counters.busErrors++;
    this.log.warn({ kind }, 'CAN bus error');
  };

  constructor(
    readonly transport: Transport,
    readonly protocol: Protocol,
    private readonly log: Pick<Logger, 'debug' | 'warn' | 'error'>,
  ) {
    super();
  }

  async start(): Promise<void> {
    this.transport.on('frame', this.onFrame);
    this.transport.on('up', this.onUp);
    this.transport.on('down', this.onDown);
    this.transport.on('busError', this.onBusError);
    await this.transport.start();
    this.dropCheck = setInterval(() => this.logKernelDrops(), DROP_CHECK_MS).unref();
  }

  /** Frames the kernel dropped on a full receive queue are in health and /metrics; the journal says when it happens. */
  private logKernelDrops(): void {
    const drops = this.transport.stats().kernelDrops ?? 0;
    if (drops > this.dropsLogged) {
      this.log.warn(
        { dropped: drops - this.dropsLogged, total: drops },
        'CAN frames dropped in the kernel: the gateway fell behind the bus',
      );
      this.dropsLogged = drops;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.dropCheck);
    this.transport.off('frame', this.onFrame);
    this.transport.off('up', this.onUp);
    this.transport.off('down', this.onDown);
    this.transport.off('busError', this.onBusError);
    await this.transport.stop();
  }

  get up(): boolean {
    return this.transport.stats().up;
  }

  private handle(frame: CanFrame): void {
    this.counters.received++;
    const result = this.protocol === 'v1' ? decode(frame) : decodeSeed(frame);
    if (!result.ok) {
      this.counters[result.reason]++;
      // debug, not warn: a noisy bus must not flood the journal.
      this.log.debug({ frame: formatFrame(frame), reason: result.reason, detail: result.detail }, 'frame ignored');
      return;
    }
    // A listener that throws (a database refusing a new device, a bug) must not take the bus down
    // with it: the frame is counted and logged, the next one is handled as usual.
    try {
      if (result.message.type === 'seed') this.emit('seed', result.message);
      else this.emit('message', result.message);
    } catch (error) {
      this.counters.handlerFailed++;
      const message = (error as Error).message;
      if (message !== this.lastHandlerError) this.log.error({ frame: formatFrame(frame), err: message }, 'frame not applied');
      this.lastHandlerError = message;
    }
  }

  private put(frame: CanFrame): boolean {
    if (this.transport.send(frame)) {
      this.counters.sent++;
      return true;
    }
    this.counters.sendFailed++;
    return false;
  }

  /** Sends a v1 command; false when the transport could not take it. */
  sendCommand(node: number, token: number, command: Command): boolean {
    return this.put(encodeCommand(node, token, command));
  }

  /** One ISO-TP frame (8 data bytes, isotp.ts) of a firmware transfer to `node`. */
  sendTransfer(node: number, data: Buffer): boolean {
    return this.put({ id: CobBase.transferToNode + node, data });
  }

  /** Asks every node (or one) to announce itself with a heartbeat. */
  discover(target = 0): boolean {
    return this.protocol === 'v1' ? this.put(encode({ type: 'discovery', target })) : false;
  }

  /** Legacy profile: the whole-frame relay command of the original socket. */
  sendSeedRelay(on: boolean): boolean {
    return this.put(encodeSeedRelay(on));
  }
}
