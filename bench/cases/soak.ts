/**
 * Soak: `--minutes` (default 10) at 2k frames/s from 16 nodes, with 16 rules evaluated on every
 * power reading and a dashboard client on the live stream. RSS and CPU every 10 s; loss at the
 * MQTT subscriber over the whole soak. RSS must stay under 120 MB and flat (the end within 10 %
 * of the first minute's).
 */
import WebSocket from 'ws';
import { LIVE_PROTOCOL } from '../../src/contracts/live.js';
import { benchConfig, withMosquitto, withTempDir, type BenchCase, type Row } from '../lib/bench-case.js';
import { BenchProcess } from '../lib/gateway-process.js';
import { Subscriber } from '../lib/subscriber.js';
import { MB, round, sleep } from '../lib/stats.js';
import { SOURCE_NODES } from './can-mqtt.js';

const RATE = 2000;
const CHUNK_S = 10;

async function addRules(httpUrl: string, token: string): Promise<void> {
  for (const node of SOURCE_NODES) {
    const res = await fetch(`${httpUrl}/api/rules`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `overload ${node}`,
        when: { device: `socket-${node}`, quantity: 'power', relation: '>', value: 5000, for_s: 2 },
        then: { action: 'switch', device: `socket-${(node % SOURCE_NODES.length) + 1}`, state: 'off' },
      }),
    });
    if (res.status !== 201) throw new Error(`POST /api/rules: ${res.status} ${await res.text()}`);
  }
}

async function liveClient(httpUrl: string, token: string): Promise<{ socket: WebSocket; messages: () => number }> {
  const socket = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/api/live`, [LIVE_PROTOCOL, `bearer.${token}`]);
  let messages = 0;
  socket.on('message', () => messages++);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { socket, messages: () => messages };
}

export const soak: BenchCase = {
  name: 'soak',
  description: 'minutes (--minutes, default 10) at 2k frames/s with 16 rules and a live-stream client: RSS at start and end, loss',
  run: (options) =>
    withMosquitto((broker) =>
      withTempDir(async (dir) => {
        const minutes = options.quick ? Math.min(options.minutes, 0.5) : options.minutes;
        const gateway = await new BenchProcess({ cpuProfDir: options.cpuProfDir }).start({
          role: 'gateway',
          config: benchConfig(dir, broker.url),
          sourceNodes: SOURCE_NODES,
        });
        const subscriber = await Subscriber.connect(broker.url);
        try {
          const { httpUrl, token } = gateway.ready;
          await sleep(1500);
          await addRules(httpUrl!, token!);
          const live = await liveClient(httpUrl!, token!);
          const start = await gateway.measure();
          const trace: { minute: number; rssMb: number; cpuPct: number; heapMb: number }[] = [];
          let sent = 0;
          let received = 0;
          const chunks = Math.max(1, Math.round((minutes * 60) / CHUNK_S));
          for (let i = 0; i < chunks; i++) {
            subscriber.expect(RATE * CHUNK_S);
            const ran = await gateway.run(RATE, RATE * CHUNK_S);
            await subscriber.settle(ran.sent);
            sent += ran.sent;
            received += subscriber.received;
            const m = await gateway.measure();
            const point = {
              minute: round(((i + 1) * CHUNK_S) / 60, 2),
              rssMb: round(m.rssEnd / MB, 1),
              cpuPct: round((m.cpuMs / m.wallMs) * 100, 1),
              heapMb: round(m.heapUsed / MB, 1),
            };
            trace.push(point);
            if ((i + 1) % 6 === 0 || i === chunks - 1) {
              options.log(
                `  ${point.minute} min: RSS ${point.rssMb} MB, heap ${point.heapMb} MB, CPU ${point.cpuPct} %, loss so far ${sent - received}`,
              );
            }
          }
          const liveMessages = live.messages();
          live.socket.close();
          const startMb = round(start.rssEnd / MB, 1);
          const firstMinute = trace[Math.min(trace.length - 1, Math.round(60 / CHUNK_S) - 1)].rssMb;
          const endMb = trace[trace.length - 1].rssMb;
          const peakMb = Math.max(...trace.map((p) => p.rssMb));
          const flat = endMb <= firstMinute * 1.1;
          const data = {
            minutes,
            rate: RATE,
            sent,
            received,
            loss: sent - received,
            startMb,
            firstMinuteMb: firstMinute,
            endMb,
            peakMb,
            liveMessages,
            trace,
          };
          const row: Row = {
            case: 'soak',
            scenario: `${minutes} min at 2k frames/s, 16 rules, live stream`,
            result: `RSS ${startMb} MB at start, ${firstMinute} MB after 1 min, ${endMb} MB at the end (peak ${peakMb}); loss ${sent - received}/${sent}; ${liveMessages} live messages`,
            target: 'RSS < 120 MB and flat, 0 loss',
            met: peakMb < 120 && flat && sent === received,
            data,
          };
          return [row];
        } finally {
          await subscriber.close();
          await gateway.stop();
        }
      }),
    ),
};
