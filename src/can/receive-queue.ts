/**
 * The kernel's receive queue of a raw CAN socket: how big it must be to ride out one second of a
 * full bus, and how many frames the kernel dropped because it was full (SO_RXQ_OVFL). Independent of
 * how the socket is opened, so every raw socket of the gateway (the transport's, the safety worker's)
 * sizes and counts the same way.
 */

/** Bits on the wire of an 8-byte frame with an 11-bit id, stuff bits and gap included: 8,000 frames/s at 1 Mbit/s. */
export const BITS_PER_FRAME = 125;
/**
 * What the kernel charges a socket per queued classic CAN frame (the socket buffer's truesize):
 * 768 bytes on x86-64 (a 1,024,000-byte queue held 1,334 frames in test/vcan/receive-queue.vcan.ts), less on
 * 32-bit ARM. Rounded up, so the queue holds at least the second it is sized for.
 */
export const QUEUED_FRAME_BYTES = 1024;
/** The kernel's default receive buffer (net.core.rmem_default on every distribution we know): never ask for less. */
export const DEFAULT_RECEIVE_BUFFER = 212_992;

/** Frames per second on a bus at `bitrate` carrying nothing but 8-byte frames. */
export function framesPerSecond(bitrate: number): number {
  return Math.ceil(bitrate / BITS_PER_FRAME);
}

/**
 * The queue, in the kernel's bytes, that holds `seconds` of a full bus at `bitrate`. SO_RCVBUF and
 * SO_RCVBUFFORCE take half of it: the kernel doubles the value asked for (its bookkeeping), and
 * getsockopt reports the doubled size.
 */
export function receiveQueueBytes(bitrate: number, seconds = 1): number {
  return Math.max(DEFAULT_RECEIVE_BUFFER, framesPerSecond(bitrate) * seconds * QUEUED_FRAME_BYTES);
}

/** What setting the buffer gave: the queue in effect and whether SO_RCVBUFFORCE (CAP_NET_ADMIN) was allowed. */
export interface ReceiveBufferResult {
  /** getsockopt(SO_RCVBUF): the queue in the kernel's bytes. */
  bytes: number;
  forced: boolean;
}

export interface ReceiveQueueReport {
  /** The queue the kernel gave the socket, bytes (undefined until a socket was opened). */
  bytes?: number;
  /** The queue asked for: one second of a full bus. */
  wanted: number;
  /** Why the queue is smaller than wanted, and what to change. */
  problem?: string;
}

/** Checks what the kernel granted against what was wanted; `problem` says how to fix a shortfall. */
export function reviewReceiveQueue(wanted: number, got: ReceiveBufferResult): ReceiveQueueReport {
  if (got.bytes >= wanted) return { bytes: got.bytes, wanted };
  const rmemMax = Math.ceil(wanted / 2);
  return {
    bytes: got.bytes,
    wanted,
    problem:
      `the CAN socket's receive queue is ${got.bytes} bytes, ${Math.floor(got.bytes / QUEUED_FRAME_BYTES)} frames, ` +
      `less than one second of a full bus (${wanted} bytes): set net.core.rmem_max to at least ${rmemMax} ` +
      `(deploy/60-canplug-can.conf in /etc/sysctl.d) or grant the service CAP_NET_ADMIN`,
  };
}

/**
 * The kernel's drop count over every socket a transport opens in its life. Each socket counts from
 * zero in a 32-bit counter that wraps; this keeps the sum of what each one reported.
 */
export class KernelDropCounter {
  private sum = 0;
  private last = 0;

  /** A new socket: its counter starts at zero. */
  newSocket(): void {
    this.last = 0;
  }

  /** The current socket's counter as the kernel last reported it. */
  observe(count: number): void {
    this.sum += (count - this.last) >>> 0;
    this.last = count >>> 0;
  }

  get total(): number {
    return this.sum;
  }
}
