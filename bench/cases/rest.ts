/**
 * REST under load: autocannon (in this process) against GET /api/devices of a gateway child with
 * 16 simulated sockets reporting every second; requests per second and latency percentiles.
 */
import autocannon from 'autocannon';
import { benchConfig, withMosquitto, withTempDir, type BenchCase, type Row } from '../lib/bench-case.js';
import { BenchProcess } from '../lib/gateway-process.js';
import { median, round, sleep } from '../lib/stats.js';

const NODES = Array.from({ length: 16 }, (_, i) => i + 1);
const CONNECTIONS = 10;

interface RestRun {
  requests_per_s: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  non_2xx: number;
  errors: number;
  gateway_cpu_pct: number;
}

export const rest: BenchCase = {
  name: 'rest',
  description: `GET /api/devices (16 sockets) under autocannon, ${CONNECTIONS} connections: requests/s, p50/p99`,
  run: (options) =>
    withMosquitto((broker) =>
      withTempDir(async (dir) => {
        const gateway = await new BenchProcess({ cpuProfDir: options.cpuProfDir }).start({
          role: 'gateway',
          config: benchConfig(dir, broker.url, { nodes: NODES }),
          sourceNodes: [],
        });
        try {
          await sleep(1500); // every socket announced
          const url = `${gateway.ready.httpUrl}/api/devices`;
          const devices = (await (await fetch(url)).json()) as unknown[];
          if (devices.length !== NODES.length)
            throw new Error(`GET /api/devices listed ${devices.length} devices, expected ${NODES.length}`);
          await autocannon({ url, connections: CONNECTIONS, duration: 1 }); // warm-up
          const runs: RestRun[] = [];
          for (let i = 0; i < options.runs; i++) {
            await gateway.mark();
            const r = await autocannon({ url, connections: CONNECTIONS, duration: options.quick ? 3 : 10 });
            const m = await gateway.measure();
            const run: RestRun = {
              requests_per_s: round(r.requests.average),
              p50_ms: r.latency.p50,
              p99_ms: r.latency.p99,
              max_ms: r.latency.max,
              non_2xx: r.non2xx,
              errors: r.errors,
              gateway_cpu_pct: round((m.cpuMs / m.wallMs) * 100, 1),
            };
            options.log(
              `  run ${i + 1}: ${run.requests_per_s} requests/s, p50 ${run.p50_ms} ms, p99 ${run.p99_ms} ms, gateway CPU ${run.gateway_cpu_pct} %`,
            );
            runs.push(run);
          }
          const med = (f: (r: RestRun) => number) => median(runs.map(f));
          const data = {
            requests_per_s: med((r) => r.requests_per_s),
            p50_ms: med((r) => r.p50_ms),
            p99_ms: med((r) => r.p99_ms),
            max_ms: med((r) => r.max_ms),
            failures: runs.reduce((n, r) => n + r.non_2xx + r.errors, 0),
            gateway_cpu_pct: med((r) => r.gateway_cpu_pct),
            runs,
          };
          const row: Row = {
            case: 'rest',
            scenario: `GET /api/devices, 16 devices, ${CONNECTIONS} connections`,
            result: `${data.requests_per_s} requests/s, p50 ${data.p50_ms} ms, p99 ${data.p99_ms} ms, ${data.failures} failed, gateway CPU ${data.gateway_cpu_pct} %`,
            met: data.failures === 0 ? undefined : false,
            data,
          };
          return [row];
        } finally {
          await gateway.stop();
        }
      }),
    ),
};
