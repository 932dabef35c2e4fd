// The pi-budget case on kernel SocketCAN (vcan0) inside the UML guest: run by bench/cases/pi-budget.ts
// through scripts/uml/run-in-guest.mjs, never on a host (it mounts cgroups and changes vcan0).
// Per slice of the guest's one CPU (25, 50, 100 %, 10 ms period): canplug alone in the slice, then
// the Node-RED peer alone in the same slice; the frame source (a second raw socket), Mosquitto and
// the subscriber outside it. Each slice's result goes to the host as a "metric bench-slice <json>".
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { assertInGuest, resetVcan } from '../../test/vcan/vcan-helpers.js';
import { EVERY_READING, withMosquitto, withTempDir, type BenchOptions } from '../lib/bench-case.js';
import { prepareCompiled } from '../lib/compiled.js';
import { CpuSlice, mountCpuControllers } from '../lib/cpu-slice.js';
import { BenchProcess } from '../lib/gateway-process.js';
import { NodeRedPeer } from '../lib/node-red-peer.js';
import { climb, tripsUnderFlood, type SliceResult } from '../lib/slice-ladder.js';
import { sleep } from '../lib/stats.js';
import { rawFrameCounter, Subscriber } from '../lib/subscriber.js';
import { SOURCE_NODES } from '../cases/can-mqtt.js';
import { BITRATE, GOALS, GUEST_OPTIONS_FILE, GUEST_RATES, seconds, sliceName, SLICES } from '../cases/pi-budget.js';
import type { Mosquitto } from '../../test/helpers/mosquitto.js';

/** Progress on the guest console (diagnostics only show when the test ends). */
const progress = (what: string) => console.log(`bench-progress ${new Date().toISOString()} ${what}`);

async function canplugSlice(options: BenchOptions, broker: Mosquitto, dir: string, percent: number): Promise<SliceResult> {
  const slice = new CpuSlice(sliceName('vcan', percent), percent);
  const gateway = new BenchProcess();
  const source = new BenchProcess();
  try {
    await gateway.start({
      role: 'gateway',
      config: {
        can: { transport: 'socketcan', interface: 'vcan0', bitrate: BITRATE },
        mqtt: { url: broker.url, publish: EVERY_READING },
        http: { port: 0 },
        database: { path: `${dir}/canplug-${percent}.db` },
        udp: { port: 0 },
        log: { level: 'silent' },
      },
      sourceNodes: [],
    });
    slice.add(gateway.pid);
    await source.start({ role: 'source', iface: 'vcan0', sourceNodes: SOURCE_NODES });
    const subscriber = await Subscriber.connect(broker.url);
    try {
      await sleep(3000); // nodes announced, devices created, discovery published
      const setup = { gateway, source, subscriber, brokerPid: broker.pid };
      const goal = GOALS[percent];
      const ladder = await climb(setup, slice, {
        rates: GUEST_RATES,
        seconds: seconds(options),
        always: goal ? [goal.rate] : [],
        log: progress,
      });
      const trips = ladder.ceiling > 0 ? await tripsUnderFlood(setup, ladder.ceiling) : undefined;
      progress(`canplug ${percent} %: ceiling ${ladder.ceiling}, trips ${JSON.stringify(trips)}`);
      return { percent, ...ladder, trips };
    } finally {
      await subscriber.close();
    }
  } finally {
    await source.stop();
    await gateway.stop();
    await slice.remove();
  }
}

async function peerSlice(options: BenchOptions, broker: Mosquitto, percent: number): Promise<SliceResult> {
  const slice = new CpuSlice(sliceName('peer', percent), percent);
  const peer = new NodeRedPeer();
  const source = new BenchProcess();
  try {
    await peer.start('vcan0', broker.url);
    slice.add(peer.pid);
    await source.start({ role: 'source', iface: 'vcan0', sourceNodes: SOURCE_NODES });
    const subscriber = await Subscriber.connect(broker.url, 'peer', rawFrameCounter);
    try {
      await sleep(3000);
      const goal = GOALS[percent];
      const ladder = await climb({ gateway: peer, source, subscriber, brokerPid: broker.pid }, slice, {
        rates: GUEST_RATES,
        seconds: seconds(options),
        always: goal ? [goal.rate] : [],
        log: progress,
      });
      progress(`peer ${percent} %: ceiling ${ladder.ceiling}`);
      return { percent, ...ladder };
    } finally {
      await subscriber.close();
    }
  } finally {
    await source.stop();
    await peer.stop();
    await slice.remove();
  }
}

test('pi-budget on vcan0: canplug and the Node-RED peer in the same slices', { timeout: 55 * 60_000 }, async (t) => {
  assertInGuest();
  const options = JSON.parse(readFileSync(GUEST_OPTIONS_FILE, 'utf8')) as BenchOptions;
  await resetVcan();
  mountCpuControllers((cmd, args) => execFileSync(cmd, args));
  if (!options.fromSource) await prepareCompiled();
  progress('compiled');
  await withMosquitto((broker) =>
    withTempDir(async (dir) => {
      for (const percent of SLICES) {
        progress(`canplug, ${percent} % of the CPU`);
        const canplug = await canplugSlice(options, broker, dir, percent);
        t.diagnostic(`metric bench-slice ${JSON.stringify({ who: 'canplug', result: canplug })}`);
        progress(`Node-RED peer, ${percent} % of the CPU`);
        const peer = await peerSlice(options, broker, percent);
        t.diagnostic(`metric bench-slice ${JSON.stringify({ who: 'peer', result: peer })}`);
      }
    }),
  );
});
