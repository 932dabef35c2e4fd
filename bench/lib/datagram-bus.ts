/**
 * The simulated bus across processes, for benchmarks that keep the frame source out of the
 * gateway's CPU slice (the pi-budget case): one UDP datagram per frame on loopback, in the layout of
 * Linux's struct can_frame (id u32 LE, length, 3 padding bytes, 8 data bytes). The gateway's side
 * joins its virtual bus; like a CAN socket it reads frame by frame from a kernel socket whose receive
 * queue is sized for one second of the bus, and the frames the kernel drops when the queue is full
 * are counted (/proc/net/udp's drops column).
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { CanFrame } from '../../src/can/frame.js';
import { receiveQueueBytes } from '../../src/can/receive-queue.js';
import type { VirtualBus } from '../../src/can/sim-transport.js';

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

/**
 * The gateway's side: an endpoint of the gateway's virtual bus (so its transport and its safety
 * worker see the frames as on the sim transport) fed from the source's datagrams; whatever the
 * gateway puts on the bus goes back to the source.
 */
export class DatagramBridge {
  private socket?: Socket;
  private peer?: { address: string; port: number };
  private link?: { send: (frame: CanFrame) => void; detach: () => void };

  constructor(
    private readonly bus: VirtualBus,
    private readonly bitrate: number,
  ) {}

  /** The port the source sends to (after start). */
  get port(): number {
    return this.socket!.address().port;
  }

  async start(): Promise<void> {
    // recvBufferSize is SO_RCVBUF's argument, which the kernel doubles (and caps at net.core.rmem_max).
    // A 16-byte datagram on loopback costs about 830 bytes of it, a CAN frame 768.
    const socket = createSocket({ type: 'udp4', recvBufferSize: receiveQueueBytes(this.bitrate) / 2 });
    const link = this.bus.attach((frame) => {
      if (this.peer) socket.send(encodeFrame(frame), this.peer.port, this.peer.address);
    });
    socket.on('message', (msg, from) => {
      this.peer ??= { address: from.address, port: from.port };
      const frame = decodeFrame(msg);
      if (frame) link.send(frame);
    });
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    this.socket = socket;
    this.link = link;
  }

  /** Datagrams the kernel dropped on the full receive queue. */
  drops(): number {
    return this.socket ? udpDrops(this.port) : 0;
  }

  stop(): void {
    this.link?.detach();
    this.socket?.close();
    this.socket = undefined;
  }
}

/** The source's side: sends frames to the gateway's port, hands the gateway's frames to `onFrame`. */
export async function datagramBusLink(
  gatewayPort: number,
  onFrame: (frame: CanFrame) => void,
): Promise<{ send: (frame: CanFrame) => void; close: () => void }> {
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
