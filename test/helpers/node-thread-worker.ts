/**
 * Simulated sockets in a thread of their own, on a named simulated bus (test/helpers/node-thread.ts):
 * nodes that keep sending while the gateway's main thread is stalled, as real nodes would.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VirtualBus } from '../../src/can/sim-transport.js';
import { SimSocket } from '../../src/can/sim-socket.js';
import type { NodeThreadRequest, NodeThreadReply } from './node-thread.js';

const { busName, nodes, reportPeriodMs } = workerData as { busName: string; nodes: number[]; reportPeriodMs: number };
const port = parentPort!;
const bus = new VirtualBus(busName);
const sockets = new Map<number, SimSocket>();
for (const node of nodes) {
  // Their own interlock off: only the gateway can open them.
  const socket = new SimSocket({ node, reportPeriodMs, humidity: 40 });
  socket.interlockEnabled = false;
  const link = bus.attach((frame) => socket.receive(frame));
  socket.start(link.send);
  sockets.set(node, socket);
}

/** Humid frame -> open command at the node, ms, and the token of that open. */
function trip(socket: SimSocket): Promise<{ node: number; ms: number; token: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${socket.node}: no open command within 5 s`)), 5000);
    const sentAt = performance.now();
    socket.onCommand = (command, at) => {
      if (command.op !== 'setRelay' || command.action !== 'open') return;
      clearTimeout(timer);
      socket.onCommand = () => {};
      const last = socket.received[socket.received.length - 1];
      resolve({ node: socket.node, ms: at - sentAt, token: last.type === 'command' ? last.token : -1 });
    };
    socket.humidity = 90;
    socket.reportNow();
  });
}

port.on('message', async (request: NodeThreadRequest) => {
  if (request.type === 'stop') {
    for (const socket of sockets.values()) socket.stop();
    port.close();
    return;
  }
  await new Promise((r) => setTimeout(r, request.delayMs));
  const results: { node: number; ms: number; token: number }[] = [];
  try {
    for (const node of request.nodes) {
      results.push(await trip(sockets.get(node)!));
      await new Promise((r) => setTimeout(r, request.spacingMs));
    }
    port.postMessage({ type: 'tripped', results } satisfies NodeThreadReply);
  } catch (error) {
    port.postMessage({ type: 'failed', error: (error as Error).message } satisfies NodeThreadReply);
  }
});
port.postMessage({ type: 'ready' } satisfies NodeThreadReply);
