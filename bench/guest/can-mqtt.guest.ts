// CAN -> MQTT on kernel SocketCAN (vcan0) inside the UML guest: run by bench/cases/can-mqtt-vcan.ts
// through scripts/uml/run-in-guest.mjs, never on a host (it changes the guest's network settings).
// The gateway (socketcan transport) and the frame source (a second raw socket on vcan0) are child
// processes; Mosquitto and the subscriber run here. Each measurement is reported to the host as a
// "metric bench-flow <json>" diagnostic.
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { assertInGuest, resetVcan } from '../../test/vcan/vcan-helpers.js';
import { EVERY_READING, withMosquitto, withTempDir, type BenchOptions } from '../lib/bench-case.js';
import { prepareCompiled } from '../lib/compiled.js';
import { BenchProcess } from '../lib/gateway-process.js';
import { Subscriber } from '../lib/subscriber.js';
import { sleep } from '../lib/stats.js';
import { measureFlow, SOURCE_NODES } from '../cases/can-mqtt.js';
import { GUEST_OPTIONS_FILE, guestPlans, guestRuns, RMEM_BYTES } from '../cases/can-mqtt-vcan.js';

/** Progress on the guest console (diagnostics only show when the test ends). */
const progress = (what: string) => console.log(`bench-progress ${new Date().toISOString()} ${what}`);

test('CAN -> MQTT on vcan0', { timeout: 30 * 60_000 }, async (t) => {
  assertInGuest();
  const options = JSON.parse(readFileSync(GUEST_OPTIONS_FILE, 'utf8')) as BenchOptions;
  await resetVcan();
  // The default socket receive buffer (about 270 frames) overflows in bursts; the flood test shows a large one loses nothing.
  for (const key of ['rmem_default', 'rmem_max']) writeFileSync(`/proc/sys/net/core/${key}`, String(RMEM_BYTES));
  if (!options.fromSource) await prepareCompiled();
  progress('compiled');
  await withMosquitto((broker) =>
    withTempDir(async (dir) => {
      for (let run = 0; run < guestRuns(options); run++) {
        const gateway = new BenchProcess();
        const source = new BenchProcess();
        try {
          await gateway.start({
            role: 'gateway',
            config: {
              can: { transport: 'socketcan', interface: 'vcan0' },
              mqtt: { url: broker.url, publish: EVERY_READING },
              http: { port: 0 },
              database: { path: `${dir}/canplug-${run}.db` },
              udp: { port: 0 },
              log: { level: 'silent' },
            },
            sourceNodes: [],
          });
          progress('gateway up');
          await source.start({ role: 'source', iface: 'vcan0', sourceNodes: SOURCE_NODES });
          progress('source up');
          const subscriber = await Subscriber.connect(broker.url);
          try {
            await sleep(3000); // nodes announced, devices created, discovery published
            for (const plan of guestPlans(options)) {
              progress(`${plan.label}: ${plan.frames} frames`);
              const r = await measureFlow({ gateway, source, subscriber, brokerPid: broker.pid }, plan.rate, plan.frames);
              progress(`${plan.label}: ${r.received} received at ${r.throughput} frames/s`);
              t.diagnostic(`metric bench-flow ${JSON.stringify({ label: plan.label, run, result: r })}`);
            }
          } finally {
            await subscriber.close();
          }
        } finally {
          await source.stop();
          await gateway.stop();
        }
      }
    }),
  );
});
