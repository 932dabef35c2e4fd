/**
 * A Pi-class CPU budget (issue 21): the gateway alone in a cgroup slice of one core (25, 50 and
 * 100 %, 10 ms period: a slower core, not a throttled fast one), Mosquitto, the frame source and the
 * subscriber outside the slice. Per slice: the lossless ceiling, frame -> MQTT p50/p99, the humidity
 * trip under a flood at the ceiling, RSS and CPU per frame. On the host the bus is simulated across
 * processes (datagram-bus.ts); in the user-mode-linux guest it is vcan0, where Node-RED 4 with a raw
 * SocketCAN -> MQTT flow runs the same ladder in the same slices as the peer.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { guestAvailability, runInGuest } from '../../scripts/uml/run-in-guest.mjs';
import { benchConfig, withMosquitto, withTempDir, type BenchCase, type BenchOptions, type Row } from '../lib/bench-case.js';
import { CpuSlice, cpuControllers } from '../lib/cpu-slice.js';
import { BenchProcess } from '../lib/gateway-process.js';
import { climb, stepAt, tripsUnderFlood, type SliceResult } from '../lib/slice-ladder.js';
import { sleep } from '../lib/stats.js';
import { Subscriber } from '../lib/subscriber.js';
import { SOURCE_NODES } from './can-mqtt.js';
import { installPeer, PEER_VERSION } from '../lib/node-red-peer.js';

export const SLICES = [25, 50, 100];
/** The issue's goals: a full 500 kbit/s bus at 25 % of a core, a full 1 Mbit/s bus at 50 %. */
export const GOALS: Record<number, { rate: number; p99Ms: number; tripMs: number } | undefined> = {
  25: { rate: 4000, p99Ms: 20, tripMs: 50 },
  50: { rate: 7800, p99Ms: 20, tripMs: 50 },
};
const HOST_RATES = [1000, 2000, 4000, 6000, 7800, 10_000, 12_000, 16_000, 20_000, 25_000, 30_000];
/** The guest's one UML CPU runs everything and every system call is slow: a lower ladder. */
export const GUEST_RATES = [100, 200, 400, 700, 1000, 1500, 2000, 3000, 4000, 6000, 7800];
/** The gateway's socket queue is sized for a full 1 Mbit/s bus, the fastest a CAN bus goes. */
export const BITRATE = 1_000_000;
export const GUEST_OPTIONS_FILE = fileURLToPath(new URL('../results/pi-budget-guest-options.json', import.meta.url));

export const seconds = (options: BenchOptions) => (options.quick ? 2 : 5);

/** A unique cgroup name per slice, so a bench left over from a crash never collides. */
export const sliceName = (what: string, percent: number) => `canplug-bench-${process.pid}-${what}-${percent}`;

export async function hostSlice(options: BenchOptions, percent: number): Promise<SliceResult> {
  return withMosquitto((broker) =>
    withTempDir(async (dir) => {
      const slice = new CpuSlice(sliceName('sim', percent), percent);
      const gateway = new BenchProcess({ cpuProfDir: options.cpuProfDir });
      const source = new BenchProcess();
      try {
        await gateway.start({ role: 'gateway', config: benchConfig(dir, broker.url), sourceNodes: [], udpBus: { bitrate: BITRATE } });
        slice.add(gateway.pid);
        await source.start({ role: 'source', busPort: gateway.ready.busPort, sourceNodes: SOURCE_NODES });
        const subscriber = await Subscriber.connect(broker.url);
        try {
          await sleep(2000); // every node announced, devices created, discovery published
          const setup = { gateway, source, subscriber, brokerPid: broker.pid };
          options.log(`  sim, ${percent} % of a core:`);
          const goal = GOALS[percent];
          const ladder = await climb(setup, slice, {
            rates: HOST_RATES,
            seconds: seconds(options),
            always: goal ? [goal.rate] : [],
            log: options.log,
          });
          const trips = ladder.ceiling > 0 ? await tripsUnderFlood(setup, ladder.ceiling) : undefined;
          if (trips)
            options.log(
              `    trips under a flood at ${ladder.ceiling}/s: p50/p99/max ${trips.p50}/${trips.p99}/${trips.max} ms, ${trips.missed} missed`,
            );
          return { percent, ...ladder, trips };
        } finally {
          await subscriber.close();
        }
      } finally {
        await source.stop();
        await gateway.stop();
        await slice.remove();
      }
    }),
  );
}

/** The table's rows for one slice of canplug (and, in the guest, of the peer beside it). */
export function sliceRows(env: string, result: SliceResult, peer?: SliceResult): Row[] {
  const goal = GOALS[result.percent];
  const top = stepAt(result, result.ceiling);
  const atGoal = goal ? stepAt(result, goal.rate) : undefined;
  const describe = (s: typeof top) =>
    s
      ? `p50/p99 ${s.latency.p50}/${s.latency.p99} ms, RSS ${s.rssPeakMb} MB, CPU ${s.cpuUsPerFrame} µs/frame (${s.cpuPct} % of a core), kernel drops ${s.kernelDrops}`
      : 'no lossless rate';
  const trips = result.trips
    ? `trip under the flood p50/p99/max ${result.trips.p50}/${result.trips.p99}/${result.trips.max} ms${result.trips.missed ? `, ${result.trips.missed} of ${result.trips.n + result.trips.missed} without an open command within 5 s` : ''}`
    : 'no trip measured';
  const goalText =
    goal && atGoal
      ? `; at ${goal.rate}/s: ${atGoal.lossless ? 'lossless' : `NOT lossless (loss ${atGoal.loss}, ${atGoal.throughput}/s)`}, ${describe(atGoal)}`
      : '';
  const met = goal
    ? !!atGoal &&
      atGoal.lossless &&
      atGoal.latency.p99 < goal.p99Ms &&
      result.ceiling >= goal.rate &&
      !!result.trips &&
      result.trips.missed === 0 &&
      result.trips.max < goal.tripMs
    : undefined;
  const rows: Row[] = [
    {
      case: 'pi-budget',
      scenario: `${env}, canplug, ${result.percent} % of a core`,
      result: `lossless ceiling ${result.ceiling} frames/s: ${describe(top)}; ${trips}${goalText}`,
      target: goal ? `${goal.rate} frames/s lossless, p99 < ${goal.p99Ms} ms, trip < ${goal.tripMs} ms` : undefined,
      met,
      data: { ...result },
    },
  ];
  if (peer) {
    const peerTop = stepAt(peer, peer.ceiling);
    const ratio = peer.ceiling > 0 ? Math.round((result.ceiling / peer.ceiling) * 100) / 100 : undefined;
    rows.push({
      case: 'pi-budget',
      scenario: `${env}, Node-RED ${PEER_VERSION} raw flow, ${peer.percent} % of a core`,
      result: `lossless ceiling ${peer.ceiling} frames/s: ${describe(peerTop)}; canplug/peer ${ratio ?? 'n/a'}`,
      data: { ...peer, ratio },
    });
  }
  return rows;
}

interface GuestSlices {
  canplug: SliceResult[];
  peer: SliceResult[];
}

async function guestSlices(options: BenchOptions): Promise<GuestSlices | string> {
  const availability = guestAvailability();
  if (!availability.ok) return `no UML guest here: ${availability.reason}`;
  await installPeer(options.log);
  mkdirSync(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true });
  writeFileSync(
    GUEST_OPTIONS_FILE,
    JSON.stringify({ quick: options.quick, runs: options.runs, minutes: options.minutes, fromSource: options.fromSource }),
  );
  try {
    const result = await runInGuest({
      files: ['bench/guest/pi-budget.guest.ts'],
      timeoutMs: 60 * 60_000,
      onConsole: (line) => {
        if (/bench-progress|not ok|Error/.test(line)) options.log(`  guest| ${line.slice(0, 400)}`);
      },
    });
    const slices = result.metrics
      .filter((m) => m.message.startsWith('bench-slice '))
      .map((m) => JSON.parse(m.message.slice('bench-slice '.length)) as { who: 'canplug' | 'peer'; result: SliceResult });
    if (result.status !== 0 || slices.length === 0) {
      const why = result.timedOut ? 'timed out' : `status ${result.status}; ${result.tests.find((x) => x.type === 'fail')?.error ?? ''}`;
      throw new Error(`the guest benchmark failed (${why}); console kept in ${result.runDir ?? '(removed)'}`);
    }
    return {
      canplug: slices.filter((s) => s.who === 'canplug').map((s) => s.result),
      peer: slices.filter((s) => s.who === 'peer').map((s) => s.result),
    };
  } finally {
    rmSync(GUEST_OPTIONS_FILE, { force: true });
  }
}

export const piBudget: BenchCase = {
  name: 'pi-budget',
  description:
    'the gateway alone in a slice of one core (25/50/100 %, 10 ms period): lossless ceiling, p50/p99, trip under a flood, RSS, CPU per frame; sim and vcan, Node-RED as peer',
  async run(options) {
    const controllers = cpuControllers();
    if ('error' in controllers) return [{ case: 'pi-budget', scenario: '(not run)', result: controllers.error, data: {} }];
    const rows: Row[] = [];
    for (const percent of SLICES) rows.push(...sliceRows('sim (UDP bus)', await hostSlice(options, percent)));
    const guest = await guestSlices(options);
    if (typeof guest === 'string') {
      rows.push({ case: 'pi-budget', scenario: 'vcan (not run)', result: guest, data: {} });
    } else {
      for (const result of guest.canplug)
        rows.push(
          ...sliceRows(
            'vcan (UML)',
            result,
            guest.peer.find((p) => p.percent === result.percent),
          ),
        );
    }
    return rows;
  },
};
