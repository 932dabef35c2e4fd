/** Simulated sockets in their own thread (node-thread-worker.ts), on the gateway's simulated bus by name. */
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../src/worker-thread.js';

export type NodeThreadRequest = { type: 'trip'; nodes: number[]; delayMs: number; spacingMs: number } | { type: 'stop' };
export type NodeThreadReply =
  | { type: 'ready' }
  | { type: 'tripped'; results: { node: number; ms: number; token: number }[] }
  | { type: 'failed'; error: string };

export interface NodeThread {
  /**
   * After `delayMs`, raises each node's humidity over the limit in turn (`spacingMs` apart) and times
   * its humid frame to the open command arriving at it. Runs in the node thread, whatever this one does.
   */
  trip(nodes: number[], delayMs?: number, spacingMs?: number): Promise<{ node: number; ms: number; token: number }[]>;
  stop(): Promise<void>;
}

/** `base`: this module's URL, given by a caller that runs bundled elsewhere (the bench child). */
export async function startNodeThread(busName: string, nodes: number[], base = import.meta.url): Promise<NodeThread> {
  const worker: Worker = startWorker('./node-thread-worker', base, { busName, nodes, reportPeriodMs: 200 });
  const [ready] = (await once(worker, 'message')) as [NodeThreadReply];
  if (ready.type !== 'ready') throw new Error(`node thread did not start: ${JSON.stringify(ready)}`);
  return {
    trip: async (list, delayMs = 0, spacingMs = 20) => {
      worker.postMessage({ type: 'trip', nodes: list, delayMs, spacingMs } satisfies NodeThreadRequest);
      const [reply] = (await once(worker, 'message')) as [NodeThreadReply];
      if (reply.type !== 'tripped') throw new Error(reply.type === 'failed' ? reply.error : `unexpected ${reply.type}`);
      return reply.results;
    },
    stop: async () => {
      const exited = once(worker, 'exit');
      worker.postMessage({ type: 'stop' } satisfies NodeThreadRequest);
      await exited;
    },
  };
}
