/**
 * A worker thread with a SocketCAN transport of its own, as the safety worker has (for
 * test/vcan/worker-channel.vcan.ts): it answers every power frame of node 1 with a frame 0x201
 * carrying the same first byte, blocks itself when asked, and reports its counters.
 */
import { parentPort } from 'node:worker_threads';
import { V1_SAFETY_FILTERS } from '../../src/can/filters.js';
import { SocketCanTransport } from '../../src/can/socketcan-transport.js';

export type ToChannelWorker = { type: 'block'; ms: number } | { type: 'stats' };
export type FromChannelWorker =
  | { type: 'up' }
  | { type: 'blocking' }
  | { type: 'stats'; received: number; sent: number; kernelDrops?: number; queueBytes?: number };

const port = parentPort!;
const post = (message: FromChannelWorker) => port.postMessage(message);
const transport = new SocketCanTransport({ interface: 'vcan0', filters: V1_SAFETY_FILTERS, bitrate: 125_000 });
transport.on('frame', (frame) => {
  if (frame.id === 0x181) transport.send({ id: 0x201, data: frame.data.subarray(0, 1) });
});
transport.once('up', () => post({ type: 'up' }));

port.on('message', (message: ToChannelWorker) => {
  if (message.type === 'block') {
    post({ type: 'blocking' });
    // This thread's loop does nothing meanwhile: frames wait in the socket's queue or are dropped.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, message.ms);
  } else {
    const s = transport.stats();
    post({ type: 'stats', received: s.received, sent: s.sent, kernelDrops: s.kernelDrops, queueBytes: s.receiveQueue?.bytes });
  }
});

await transport.start();
