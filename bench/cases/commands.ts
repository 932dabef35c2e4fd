/**
 * Commands and the safety path, on the sim transport with simulated socket 1 (it answers like the
 * firmware), on an idle bus and with 4k frames/s of other nodes' traffic:
 * - REST PUT relay -> command frame -> node reply -> 200, timed at the HTTP client;
 * - MQTT set (published by a client on the broker) -> command frame at the node;
 * - a humidity frame over the limit -> the gateway's "open relay" command at the node (its own
 *   interlock off, so only the gateway's backup rule acts).
 */
import mqtt from 'mqtt';
import type { Mosquitto } from '../../test/helpers/mosquitto.js';
import { benchConfig, withMosquitto, withTempDir, type BenchCase, type BenchOptions, type Row } from '../lib/bench-case.js';
import { BenchProcess } from '../lib/gateway-process.js';
import { median, now, percentiles, sleep, type Percentiles } from '../lib/stats.js';

const BACKGROUND_NODES = Array.from({ length: 16 }, (_, i) => i + 2);
const BACKGROUND_RATE = 4000;
/** Nodes in their own thread for the stalled-main-loop trips (clear of socket 1 and the background nodes). */
const STALLED_NODES = Array.from({ length: 40 }, (_, i) => i + 20);
const STALL_MS = 10_000;
/** Commands sent and not counted first. */
const WARM_UP = 10;
/** One command every 50 ms: a steady 20 per second. */
const INTERVAL_MS = 50;

type Results = Record<string, Percentiles>;
type What = 'commands' | 'safety';

async function online(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/api/devices/socket-1`);
    if (res.ok && ((await res.json()) as { available?: boolean }).available) return;
    await sleep(50);
  }
  throw new Error('socket-1 did not come online');
}

async function restCommands(gateway: BenchProcess, count: number): Promise<number[]> {
  const { httpUrl, token } = gateway.ready;
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const res = await fetch(`${httpUrl}/api/devices/socket-1/relay`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ on: i % 2 === 1 }),
    });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`PUT relay: ${res.status} ${body}`);
    ms.push(performance.now() - t0);
    await sleep(INTERVAL_MS);
  }
  return ms;
}

async function mqttCommands(gateway: BenchProcess, broker: Mosquitto, count: number): Promise<number[]> {
  const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  try {
    await gateway.commands(); // forget the REST commands
    const sentAt: number[] = [];
    for (let i = 0; i < count; i++) {
      sentAt.push(now());
      await client.publishAsync('canplug/socket-1/set', i % 2 === 0 ? 'OFF' : 'ON', { qos: 0 });
      await sleep(INTERVAL_MS);
    }
    await sleep(500);
    const arrived = (await gateway.commands()).filter((c) => c.node === 1 && c.op === 'setRelay');
    if (arrived.length !== count) throw new Error(`MQTT set: ${arrived.length} of ${count} commands reached the node`);
    return arrived.map((c, i) => c.at - sentAt[i]);
  } finally {
    await client.endAsync(true);
  }
}

async function measure(what: What, broker: Mosquitto, background: boolean, options: BenchOptions): Promise<Results> {
  const count = options.quick ? 40 : 200;
  return withTempDir(async (dir) => {
    const gateway = new BenchProcess({ cpuProfDir: options.cpuProfDir });
    try {
      await gateway.start({ role: 'gateway', config: benchConfig(dir, broker.url, { nodes: [1] }), sourceNodes: BACKGROUND_NODES });
      await online(gateway.ready.httpUrl!);
      await sleep(1000);
      // Background traffic long enough to cover every measurement below.
      const traffic = background
        ? gateway.run(BACKGROUND_RATE, BACKGROUND_RATE * Math.ceil((count * 2 * (INTERVAL_MS + 30)) / 1000 + 5))
        : undefined;
      let results: Results;
      if (what === 'commands') {
        await restCommands(gateway, WARM_UP); // connection, JIT: not what a user waits for
        const rest = await restCommands(gateway, count);
        const viaMqtt = await mqttCommands(gateway, broker, count);
        results = { rest: percentiles(rest), mqtt: percentiles(viaMqtt) };
      } else {
        results = { trip: percentiles(await gateway.trips(options.quick ? 10 : 50)) };
        // The frame source runs in the stalled thread too, so only on the idle bus.
        if (!background)
          results.stalled = percentiles(await gateway.stalledTrips(STALLED_NODES.slice(0, options.quick ? 10 : 40), STALL_MS));
      }
      await traffic;
      return results;
    } finally {
      await gateway.stop();
    }
  });
}

const SCENARIOS: Record<string, { what: What; scenario: string; target: string; limit: number; unit: string }> = {
  rest: { what: 'commands', scenario: 'REST PUT relay -> frame -> reply -> 200', target: 'p99 < 20 ms', limit: 20, unit: 'commands, 20/s' },
  mqtt: { what: 'commands', scenario: 'MQTT set -> frame at the node', target: 'p99 < 20 ms', limit: 20, unit: 'commands, 20/s' },
  trip: { what: 'safety', scenario: 'humidity frame -> open command', target: 'p99 < 100 ms', limit: 100, unit: 'trips' },
  stalled: {
    what: 'safety',
    scenario: 'humidity frame -> open command, main loop stalled 10 s',
    target: 'p99 < 100 ms',
    limit: 100,
    unit: 'trips',
  },
};

function benchCase(what: What, description: string): BenchCase {
  return {
    name: what,
    description,
    run: (options) =>
      withMosquitto(async (broker) => {
        const rows: Row[] = [];
        for (const background of [false, true]) {
          const bus = background ? `bus at ${BACKGROUND_RATE / 1000}k frames/s` : 'idle bus';
          const runs: Results[] = [];
          for (let i = 0; i < options.runs; i++) {
            const r = await measure(what, broker, background, options);
            options.log(
              `  ${bus} run ${i + 1}: ${Object.entries(r)
                .map(([k, p]) => `${k} p50/p99/max ${p.p50}/${p.p99}/${p.max} ms`)
                .join(', ')}`,
            );
            runs.push(r);
          }
          for (const key of Object.keys(runs[0])) {
            const s = SCENARIOS[key];
            const med = (f: (p: Percentiles) => number) => median(runs.map((r) => f(r[key])));
            const p = { p50: med((x) => x.p50), p99: med((x) => x.p99), max: med((x) => x.max), n: runs[0][key].n };
            rows.push({
              case: what,
              scenario: `${s.scenario}, ${bus}`,
              result: `p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms (${p.n} ${s.unit})`,
              target: s.target,
              met: p.p99 < s.limit,
              data: { ...p, runs: runs.map((r) => r[key]) },
            });
          }
        }
        return rows;
      }),
  };
}

export const commands = benchCase('commands', 'REST relay round trip and MQTT set -> frame, 20 commands/s, idle bus and 4k frames/s');
export const safety = benchCase('safety', 'humidity frame over the limit -> open command from the gateway, idle bus and 4k frames/s');
