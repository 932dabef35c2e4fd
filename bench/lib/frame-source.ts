/**
 * The benchmark's bus traffic: a set of emulated nodes that announce themselves (heartbeat and an
 * environment frame every second, like the firmware) and send power frames at a set rate, or as
 * fast as the receiver takes them. Every power frame carries a counter, so a subscriber can tell
 * which frame each MQTT state message came from: the low 16 bits in the voltage field, the high 16
 * bits in the current field (decoded by `counterOf`).
 */
import { encode, type Status } from '../../src/can/codec.js';
import type { CanFrame } from '../../src/can/frame.js';
import { now } from './stats.js';

const RUNNING: Status = { relay: true, humidityLatched: false, powerLatched: false, sensorFault: false };
/** Power field of every counted frame: 100.0 W. */
const POWER_RAW = 1000;

/** The counter a state payload's voltage and current carry (see the module comment). */
export function counterOf(state: { voltage?: number; current?: number }): number | undefined {
  if (state.voltage === undefined || state.current === undefined) return undefined;
  return Math.round(state.voltage * 10) + Math.round(state.current * 1000) * 65536;
}

export interface SourceRun {
  /** Frames per second; 0 = flat out (batches handed over as fast as the receiving side takes them). */
  rate: number;
  frames: number;
  /**
   * Flat out only: at most this many frames sent and not yet seen by the subscriber (`acknowledged`),
   * so the pipeline runs at the pace of its slowest part instead of piling up in buffers.
   */
  window?: number;
}

export interface SourceResult {
  sent: number;
  startedAt: number;
  endedAt: number;
  /** Send time of each counted frame (index = counter), same clock as `now()`. */
  sendTimes: Float64Array;
}

export interface FrameSourceOptions {
  nodes: number[];
  send: (frame: CanFrame) => void;
  /** Frames handed over per turn when flat out. */
  burst?: number;
  /** Lets the receiving side catch up between flat-out bursts (e.g. setImmediate, or a socket's drain). */
  yieldTurn?: () => Promise<void>;
}

export class FrameSource {
  /** Next seq per frame id (power and environment count separately, as on a node). */
  private readonly seq = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  /** Counted frames the subscriber has seen so far in this run (fed back by the measuring side). */
  acknowledged = 0;

  constructor(private readonly options: FrameSourceOptions) {}

  /** Announces every node and keeps them online (heartbeat + environment frame each second). */
  start(): void {
    this.announce();
    this.timer = setInterval(() => this.announce(), 1000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Puts one frame on the bus now. */
  send(frame: CanFrame): void {
    this.options.send(frame);
  }

  /** A power frame for `counter`, from the node whose turn it is. */
  powerFrame(counter: number): CanFrame {
    const nodes = this.options.nodes;
    const node = nodes[counter % nodes.length];
    const seq = this.nextSeq(0x180 + node);
    const data = Buffer.alloc(8);
    data.writeUInt16LE(counter & 0xffff, 0);
    data.writeUInt16LE(Math.floor(counter / 65536), 2);
    data.writeUInt16LE(POWER_RAW, 4);
    data[6] = 0x01; // relay closed
    data[7] = seq;
    return { id: 0x180 + node, data };
  }

  /** Sends `frames` counted power frames at `rate` per second (0: flat out). */
  async run({ rate, frames, window }: SourceRun): Promise<SourceResult> {
    const sendTimes = new Float64Array(frames);
    this.acknowledged = 0;
    const startedAt = now();
    let sent = 0;
    if (rate > 0) {
      // Paced on the clock, 1 ms ticks: whatever is due is sent, so a late tick catches up in a burst.
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        const tick = () => {
          const due = Math.min(frames, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
          while (sent < due) this.sendCounted(sent++, sendTimes);
          if (sent >= frames) resolve();
          else setTimeout(tick, 1);
        };
        tick();
      });
    } else {
      const burst = this.options.burst ?? 200;
      const yieldTurn = this.options.yieldTurn ?? (() => new Promise<void>((r) => setImmediate(r)));
      while (sent < frames) {
        const end = Math.min(frames, sent + burst);
        while (sent < end) this.sendCounted(sent++, sendTimes);
        await yieldTurn();
        while (window !== undefined && sent - this.acknowledged > window) await new Promise((r) => setTimeout(r, 1));
      }
    }
    return { sent, startedAt, endedAt: now(), sendTimes };
  }

  private sendCounted(counter: number, sendTimes: Float64Array): void {
    const frame = this.powerFrame(counter);
    sendTimes[counter] = now();
    this.options.send(frame);
  }

  /** An environment frame of `node` in its own sequence (humidity over 80 %RH trips the safety rule). */
  environmentFrame(node: number, humidity: number): CanFrame {
    return encode({
      type: 'environment',
      node,
      humidity,
      temperature: 21,
      humidityLimit: 80,
      hysteresis: 10,
      status: RUNNING,
      seq: this.nextSeq(0x280 + node),
    });
  }

  private nextSeq(id: number): number {
    const seq = this.seq.get(id) ?? 0;
    this.seq.set(id, (seq + 1) & 0xff);
    return seq;
  }

  private announce(): void {
    const uptime = Math.floor((Date.now() - this.startedAt) / 1000);
    for (const node of this.options.nodes) {
      this.options.send(encode({ type: 'heartbeat', node, state: 'running', protocol: 1, firmware: '1.0', uptime }));
      this.options.send(this.environmentFrame(node, 45));
    }
  }
}
