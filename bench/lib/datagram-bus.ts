/**
 * The simulated bus across processes, for benchmarks that keep the frame source out of the
 * gateway's CPU slice (the pi-budget case): one UDP datagram per frame on loopback, in the layout of
 * Linux's struct can_frame (id u32 LE, length, 3 padding bytes, 8 data bytes). The gateway's side is
 * a Transport; like a CAN socket it reads frame by frame from a kernel socket whose receive queue is
 * sized for one second of the bus, and the frames the kernel drops when the queue is full are
 * counted (/proc/net/udp's drops column).
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { CanFrame } from '../../src/can/frame.js';
import { receiveQueueBytes } from '../../src/can/receive-queue.js';
import { Transport, type TransportStats } from '../../src/can/transport.js';

const FRAME_BYTES = 16;

export function encodeFrame(frame: CanFrame): Buffer {
  const out = Buffer.alloc(FRAME_BYTES);
  out.writeUInt32LE(frame.id, 0);
  out[4] = frame.data.length;
  frame.data.copy(out, 8, 0, 8);
  return out;
}

export function decodeFrame(msg: Buffer): CanFrame | undefined {
  if (msg.length !== FRAME_BYTES || msg[4] > 8) return undefined;
  return { id: msg.readUInt32LE(0), data: Buffer.from(msg.subarray(8, 8 + msg[4])) };
}

/** Datagrams the kernel dropped on a full receive queue of the UDP socket bound to `port` on 127.0.0.1. */
export function udpDrops(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[1] === local) return Number(cols.at(-1));
  }
  return 0;
}

/** The gateway's side: frames from the source's datagrams; frames it sends go back to the source. */
export class DatagramBusTransport extends Transport {
  readonly name = 'udp-bus';
  private socket?: Socket;
  private peer?: { address: string; port: number };
  private counters = { received: 0, sent: 0, dropped: 0, busErrors: 0 };
  private receiveQueue = 0;

  constructor(private readonly bitrate: number) {
    super();
  }

  /** The port the source sends to (after start). */
  get port(): number {
    return this.socket!.address().port;
  }

  async start(): Promise<void> {
    const wanted = receiveQueueBytes(this.bitrate);
    // recvBufferSize is SO_RCVBUF's argument, which the kernel doubles (and caps at net.core.rmem_max).
    // A 16-byte datagram on loopback costs about 830 bytes of it, a CAN frame 768.
    const socket = createSocket({ type: 'udp4', recvBufferSize: wanted / 2 });
    socket.on('message', (msg, from) => {
      this.peer ??= { address: from.address, port: from.port };
      const frame = decodeFrame(msg);
      if (!frame) return;
      this.counters.received++;
      this.emit('frame', frame);
    });
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    this.receiveQueue = socket.getRecvBufferSize();
    this.socket = socket;
    this.emit('up');
  }

  async stop(): Promise<void> {
    this.socket?.close();
    this.socket = undefined;
  }

  send(frame: CanFrame): boolean {
    if (!this.socket || !this.peer) {
      this.counters.dropped++;
      return false;
    }
    this.socket.send(encodeFrame(frame), this.peer.port, this.peer.address);
    this.counters.sent++;
    return true;
  }

  stats(): TransportStats {
    return {
      ...this.counters,
      up: this.socket !== undefined,
      kernelDrops: this.socket ? udpDrops(this.port) : 0,
      receiveQueue: { bytes: this.receiveQueue, wanted: receiveQueueBytes(this.bitrate) },
    };
  }
}

/** The source's side: sends frames to the gateway's port, hands the gateway's frames to `onFrame`. */
export async function datagramBusLink(gatewayPort: number, onFrame: (frame: CanFrame) => void): Promise<{ send: (frame: CanFrame) => void; close: () => void }> {
  const socket = createSocket({ type: 'udp4', sendBufferSize: 4 * 1024 * 1024 });
  socket.on('message', (msg) => {
    const frame = decodeFrame(msg);
    if (frame) onFrame(frame);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  socket.connect(gatewayPort, '127.0.0.1');
  await once(socket, 'connect');
  return { send: (frame) => socket.send(encodeFrame(frame)), close: () => socket.close() };
}
