/**
 * ISO 15765-2 (ISO-TP) on classic CAN, normal addressing, every frame padded to 8 bytes: the
 * segmented transfer that carries firmware bundles (docs/protocol.md, "Firmware transfer").
 * This file has the frame layer (single, first, consecutive and flow-control frames) and the
 * sender's state machine, which paces its frames to a share of the bus and obeys the receiver's
 * block size and separation time.
 */

/** Padding of the unused bytes (ISO 15765-2 recommends 0xCC). */
export const PADDING = 0xcc;
/** A first frame's 12-bit length field; longer messages use the 32-bit escape (ISO 15765-2:2016). */
export const MAX_SHORT_LENGTH = 4095;
export const SF_MAX = 7;

export const FlowStatus = { continue: 0, wait: 1, overflow: 2 } as const;
export type FlowStatusName = keyof typeof FlowStatus;

/** One frame's meaning; `data` is hex (for a consecutive frame, all 7 bytes, padding included). */
export type IsoTpPdu =
  | { kind: 'single'; data: string }
  | { kind: 'first'; length: number; data: string }
  | { kind: 'consecutive'; seq: number; data: string }
  | { kind: 'flow'; status: FlowStatusName; blockSize: number; stMin: number };

export type PduResult = { ok: true; pdu: IsoTpPdu } | { ok: false; detail: string };

const FLOW_NAMES = Object.keys(FlowStatus) as FlowStatusName[];

/** Decodes the 8 data bytes of a transfer frame (the caller checks the DLC). */
export function decodePdu(d: Buffer): PduResult {
  const type = d[0] >> 4;
  const low = d[0] & 0x0f;
  switch (type) {
    case 0:
      if (low < 1 || low > SF_MAX) return { ok: false, detail: `single frame length ${low} is not 1..7` };
      return { ok: true, pdu: { kind: 'single', data: d.subarray(1, 1 + low).toString('hex') } };
    case 1: {
      const short = (low << 8) | d[1];
      if (short !== 0) {
        if (short <= SF_MAX) return { ok: false, detail: `first frame length ${short} fits a single frame` };
        return { ok: true, pdu: { kind: 'first', length: short, data: d.subarray(2).toString('hex') } };
      }
      const length = d.readUInt32BE(2);
      if (length <= MAX_SHORT_LENGTH) return { ok: false, detail: `escaped first frame length ${length} fits 12 bits` };
      return { ok: true, pdu: { kind: 'first', length, data: d.subarray(6).toString('hex') } };
    }
    case 2:
      return { ok: true, pdu: { kind: 'consecutive', seq: low, data: d.subarray(1).toString('hex') } };
    case 3: {
      const status = FLOW_NAMES[low];
      if (status === undefined) return { ok: false, detail: `flow status ${low} is not 0, 1 or 2` };
      return { ok: true, pdu: { kind: 'flow', status, blockSize: d[1], stMin: d[2] } };
    }
  }
  return { ok: false, detail: `frame type ${type} is not single, first, consecutive or flow control` };
}

export function encodePdu(pdu: IsoTpPdu): Buffer {
  const d = Buffer.alloc(8, PADDING);
  switch (pdu.kind) {
    case 'single': {
      const data = Buffer.from(pdu.data, 'hex');
      d[0] = data.length;
      data.copy(d, 1);
      break;
    }
    case 'first': {
      const data = Buffer.from(pdu.data, 'hex');
      if (pdu.length <= MAX_SHORT_LENGTH) {
        d[0] = 0x10 | (pdu.length >> 8);
        d[1] = pdu.length & 0xff;
        data.copy(d, 2, 0, 6);
      } else {
        d[0] = 0x10;
        d[1] = 0;
        d.writeUInt32BE(pdu.length, 2);
        data.copy(d, 6, 0, 2);
      }
      break;
    }
    case 'consecutive':
      d[0] = 0x20 | (pdu.seq & 0x0f);
      Buffer.from(pdu.data, 'hex').copy(d, 1, 0, 7);
      break;
    case 'flow':
      d[0] = 0x30 | FlowStatus[pdu.status];
      d[1] = pdu.blockSize;
      d[2] = pdu.stMin;
      break;
  }
  return d;
}

/** STmin byte -> milliseconds (0x00-0x7F ms, 0xF1-0xF9 100-900 us; reserved values mean 127 ms, as ISO 15765-2 says). */
export function stMinMs(byte: number): number {
  if (byte <= 0x7f) return byte;
  if (byte >= 0xf1 && byte <= 0xf9) return (byte - 0xf0) / 10;
  return 0x7f;
}

/** Splits a message into the data bytes of its frames: one single frame, or a first frame and consecutive frames. */
export function segment(message: Buffer): Buffer[] {
  if (message.length === 0) throw new RangeError('an ISO-TP message has at least one byte');
  if (message.length <= SF_MAX) return [encodePdu({ kind: 'single', data: message.toString('hex') })];
  const firstBytes = message.length <= MAX_SHORT_LENGTH ? 6 : 2;
  const frames = [encodePdu({ kind: 'first', length: message.length, data: message.subarray(0, firstBytes).toString('hex') })];
  let seq = 1;
  for (let at = firstBytes; at < message.length; at += 7) {
    frames.push(encodePdu({ kind: 'consecutive', seq, data: message.subarray(at, at + 7).toString('hex') }));
    seq = (seq + 1) & 0x0f;
  }
  return frames;
}

/** Bits on the wire of a classic data frame with an 11-bit id and `dlc` bytes, worst-case bit stuffing included. */
export function frameBits(dlc = 8): number {
  const stuffable = 34 + 8 * dlc; // SOF to the end of the CRC
  return 47 + 8 * dlc + Math.floor((stuffable - 1) / 4);
}

export interface SenderOptions {
  /** Puts one frame's 8 data bytes on the bus; false when the bus refused it. */
  send: (data: Buffer) => boolean;
  /** Least time between two frames of this transfer, from the bus share (pacingGapMs()). */
  gapMs: number;
  /** How long to wait for the receiver's flow control (ISO 15765-2's N_Bs: 1000 ms). */
  flowTimeoutMs?: number;
  /** A receiver may answer "wait" this many times in a row before the sender gives up. */
  maxWaits?: number;
  /** Called after every frame with the bytes sent so far. */
  onProgress?: (sentBytes: number) => void;
}

/** Least time between two transfer frames so that they take at most `share` of a bus at `bitrate`. */
export function pacingGapMs(bitrate: number, share: number): number {
  return ((frameBits(8) / bitrate) * 1000) / share;
}

export class IsoTpError extends Error {}

/**
 * Frames a sender may put on the bus back to back (without an STmin from the receiver): 2, or what
 * 2 ms of its pacing allows when the gap is shorter than a timer can wait.
 */
const burstFor = (gapMs: number) => Math.max(2, Math.floor(2 / gapMs));

/**
 * Sends one message: the first frame, then blocks of consecutive frames as the receiver's flow
 * control allows, at an average of one frame per `gapMs` (a token bucket of burstFor() frames) and never
 * closer than the receiver's STmin. Feed every flow-control frame from the receiver into flow().
 */
export class IsoTpSender {
  private frames: Buffer[] = [];
  private next = 0;
  private length = 0;
  private credit = 0;
  private waits = 0;
  private gapMs: number;
  private burst: number;
  private tokens = 1;
  private refilledAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private settle: { resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly options: SenderOptions) {
    this.gapMs = options.gapMs;
    this.burst = burstFor(options.gapMs);
  }

  get busy(): boolean {
    return this.settle !== undefined;
  }

  /** Resolves once the last frame is on the bus; rejects on a refused message, a timeout or a bus that refuses frames. */
  send(message: Buffer): Promise<void> {
    if (this.settle) return Promise.reject(new IsoTpError('a message is already being sent'));
    this.frames = segment(message);
    this.length = message.length;
    this.next = 0;
    this.waits = 0;
    this.gapMs = this.options.gapMs;
    this.burst = burstFor(this.gapMs);
    this.tokens = 1;
    this.refilledAt = performance.now();
    const done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.credit = 1; // the first (or single) frame needs no flow control
    this.pump();
    return done;
  }

  /** A flow-control frame from the receiver. Ignored while nothing is waiting for one. */
  flow(pdu: Extract<IsoTpPdu, { kind: 'flow' }>): void {
    if (!this.settle || this.credit > 0 || this.next === 0) return;
    clearTimeout(this.timer);
    if (pdu.status === 'overflow')
      return this.fail(new IsoTpError(`the receiver cannot take a ${this.length}-byte message (flow control: overflow)`));
    if (pdu.status === 'wait') {
      if (++this.waits > (this.options.maxWaits ?? 10)) return this.fail(new IsoTpError('the receiver kept answering "wait"'));
      this.armFlowTimeout();
      return;
    }
    this.waits = 0;
    this.credit = pdu.blockSize === 0 ? Infinity : pdu.blockSize;
    const stMin = stMinMs(pdu.stMin);
    this.gapMs = Math.max(this.options.gapMs, stMin);
    this.burst = stMin > 0 ? 1 : burstFor(this.gapMs);
    this.pump();
  }

  /** Stops sending; the pending send() rejects with `reason`. */
  cancel(reason: string): void {
    if (this.settle) this.fail(new IsoTpError(reason));
  }

  /** Bytes of the message carried by the frames sent so far. */
  private sentBytes(): number {
    if (this.frames.length === 1) return this.next ? this.length : 0;
    const first = this.length <= MAX_SHORT_LENGTH ? 6 : 2;
    return this.next === 0 ? 0 : Math.min(this.length, first + 7 * (this.next - 1));
  }

  private pump(): void {
    this.timer = undefined;
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.refilledAt) / this.gapMs);
    this.refilledAt = now;
    while (this.credit > 0 && this.next < this.frames.length && this.tokens >= 1) {
      if (!this.options.send(this.frames[this.next]))
        return this.fail(new IsoTpError('the CAN bus refused a transfer frame (down, or its queue is full)'));
      this.next++;
      this.credit--;
      this.tokens -= 1;
      this.options.onProgress?.(this.sentBytes());
    }
    if (this.next >= this.frames.length) {
      const settle = this.settle!;
      this.settle = undefined;
      settle.resolve();
      return;
    }
    if (this.credit > 0) {
      this.timer = setTimeout(() => this.pump(), (1 - this.tokens) * this.gapMs);
      return;
    }
    this.armFlowTimeout();
  }

  private armFlowTimeout(): void {
    const ms = this.options.flowTimeoutMs ?? 1000;
    this.timer = setTimeout(() => this.fail(new IsoTpError(`no flow control from the receiver within ${ms} ms`)), ms);
  }

  private fail(error: Error): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const settle = this.settle;
    this.settle = undefined;
    settle?.reject(error);
  }
}
