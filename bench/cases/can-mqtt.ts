/**
 * CAN -> MQTT on the sim transport: the gateway in a child process with the frame source on its
 * virtual bus, Mosquitto on loopback, the subscriber here. At 1k, 4k, 8k frames/s and flat out:
 * frames per second that reached the subscriber, loss, the gateway's CPU and peak RSS, and the
 * delay from frame to MQTT message (the latency target is at 1k frames/s).
 */
import type { Mosquitto } from '../../test/helpers/mosquitto.js';
import { benchConfig, withMosquitto, withTempDir, type BenchCase, type BenchOptions, type Row } from '../lib/bench-case.js';
import { BenchProcess, type Measurement } from '../lib/gateway-process.js';
import { Subscriber } from '../lib/subscriber.js';
import { MB, median, percentiles, processCpuMs, quantile, round, sleep, type Percentiles } from '../lib/stats.js';

/** Emulated nodes the frames come from, in turn. */
export const SOURCE_NODES = Array.from({ length: 16 }, (_, i) => i + 1);

/** Frames in flight when flat out: 50 ms at 40k frames/s. */
const FLAT_OUT_WINDOW = 2000;

export interface FlowResult {
  rate: number;
  sent: number;
  received: number;
  loss: number;
  /** Counted frames per second that reached the subscriber (first send to last arrival). */
  throughput: number;
  /** Gateway CPU over the run, % of one core. */
  cpuPct: number;
  rssPeakMb: number;
  readingsStored: number;
  framesLostOnBus: number;
  /** Frames the kernel dropped on the gateway's full socket queue. */
  kernelDrops: number;
  /** Gateway CPU time per counted frame, µs: its capacity is about 1e6 / this frames/s on one core. */
  cpuUsPerFrame: number;
  /** CPU of the measuring subscriber and of the broker over the run, % of one core. */
  subscriberCpuPct: number;
  brokerCpuPct: number;
  latency: Percentiles;
  /** Median latency of the first and the last 5 % of the frames sent, ms: apart when a backlog grew through the run. */
  headLatencyMs: number;
  tailLatencyMs: number;
  /** The gateway's event-loop delay and GC pauses over the run. */
  loopDelayMaxMs: number;
  gcMaxMs: number;
  gcTotalMs: number;
  flushMaxMs: number;
  involuntarySwitches: number;
}

/** What a flow measures the gateway with: a BenchProcess, or a foreign process watched from outside (the peer). */
export interface MeasuredProcess {
  measure(kind?: 'measure' | 'flush'): Promise<Measurement>;
  mark(): Promise<void>;
}

export interface FlowSetup {
  gateway: MeasuredProcess;
  /** The process with the frame source: the gateway itself on the sim transport. */
  source: BenchProcess;
  subscriber: Subscriber;
  brokerPid: number | undefined;
}

/** One flow measurement against a gateway that is already up (its source on the bus). */
export async function measureFlow(
  { gateway, source, subscriber, brokerPid }: FlowSetup,
  rate: number,
  frames: number,
): Promise<FlowResult> {
  const before = await gateway.measure('flush');
  subscriber.expect(frames);
  if (source !== gateway) await gateway.mark();
  const cpu0 = { subscriber: process.cpuUsage(), broker: processCpuMs(brokerPid), at: performance.now() };
  // Flat out: frames in flight bounded by what the subscriber has seen (acknowledged every 5 ms).
  const acks = setInterval(() => source.ack(subscriber.received), 5);
  const ran = await source.run(rate, frames, rate === 0 ? FLAT_OUT_WINDOW : undefined).finally(() => clearInterval(acks));
  await subscriber.settle(frames);
  const m = await gateway.measure();
  const wall = performance.now() - cpu0.at;
  const subscriberCpu = process.cpuUsage(cpu0.subscriber);
  const brokerCpuMs = processCpuMs(brokerPid) - cpu0.broker;
  const after = await gateway.measure('flush');
  const all = subscriber.latencies(ran.sendTimes);
  const latencies = all.filter((x) => !Number.isNaN(x));
  const tail = all.subarray(Math.floor(all.length * 0.95)).filter((x) => !Number.isNaN(x));
  const head = all.subarray(0, Math.ceil(all.length * 0.05)).filter((x) => !Number.isNaN(x));
  const spanS = (Math.max(subscriber.lastArrival, ran.endedAt) - ran.startedAt) / 1000;
  return {
    rate,
    sent: ran.sent,
    received: subscriber.received,
    loss: ran.sent - subscriber.received,
    throughput: round(subscriber.received / spanS),
    cpuPct: round((m.cpuMs / m.wallMs) * 100, 1),
    rssPeakMb: round(Math.max(m.rssPeak, after.rssPeak) / MB, 1),
    readingsStored: after.readingsWritten - before.readingsWritten,
    framesLostOnBus: after.framesLost - before.framesLost,
    kernelDrops: after.kernelDrops - before.kernelDrops,
    cpuUsPerFrame: round((m.cpuMs * 1000) / ran.sent, 1),
    subscriberCpuPct: round(((subscriberCpu.user + subscriberCpu.system) / 1000 / wall) * 100, 1),
    brokerCpuPct: round((brokerCpuMs / wall) * 100, 1),
    loopDelayMaxMs: round(m.loopDelayMaxMs, 1),
    gcMaxMs: round(m.gc.maxMs, 1),
    gcTotalMs: round(m.gc.totalMs),
    flushMaxMs: round(m.flushMaxMs, 1),
    involuntarySwitches: m.involuntarySwitches,
    latency: percentiles(latencies),
    headLatencyMs: round(quantile(head, 0.5), 2),
    tailLatencyMs: round(quantile(tail, 0.5), 2),
  };
}

export function describeRun(r: FlowResult): string {
  return (
    `${r.throughput} frames/s, loss ${r.loss}, gateway CPU ${r.cpuPct} % (${r.cpuUsPerFrame} µs/frame), RSS ${r.rssPeakMb} MB, ` +
    `p50/p99/max ${r.latency.p50}/${r.latency.p99}/${r.latency.max} ms; loop delay max ${r.loopDelayMaxMs} ms, GC max ${r.gcMaxMs} ms, flush max ${r.flushMaxMs} ms, ${r.involuntarySwitches} preemptions; ` +
    `subscriber ${r.subscriberCpuPct} %, broker ${r.brokerCpuPct} %`
  );
}

export interface FlowPlan {
  label: string;
  rate: number;
  frames: number;
}

export function flowPlans(options: BenchOptions, maxFrames: number): FlowPlan[] {
  const seconds = options.quick ? 3 : 10;
  return [
    ...[1000, 4000, 8000].map((rate) => ({ label: `${rate / 1000}k frames/s`, rate, frames: rate * seconds })),
    { label: 'flat out', rate: 0, frames: options.quick ? maxFrames / 4 : maxFrames },
  ];
}

/** The median of several runs of one plan, and the rows for the table. */
export function flowRows(caseName: string, variant: string, plan: FlowPlan, runs: FlowResult[], targets: { flatOut?: number }): Row[] {
  const pick = (f: (r: FlowResult) => number) => median(runs.map(f));
  const r = {
    rate: plan.rate,
    sent: pick((x) => x.sent),
    received: pick((x) => x.received),
    loss: pick((x) => x.loss),
    throughput: pick((x) => x.throughput),
    cpuPct: pick((x) => x.cpuPct),
    rssPeakMb: pick((x) => x.rssPeakMb),
    readingsStored: pick((x) => x.readingsStored),
    framesLostOnBus: pick((x) => x.framesLostOnBus),
    kernelDrops: pick((x) => x.kernelDrops),
    cpuUsPerFrame: pick((x) => x.cpuUsPerFrame),
    subscriberCpuPct: pick((x) => x.subscriberCpuPct),
    brokerCpuPct: pick((x) => x.brokerCpuPct),
    loopDelayMaxMs: pick((x) => x.loopDelayMaxMs),
    gcMaxMs: pick((x) => x.gcMaxMs),
    gcTotalMs: pick((x) => x.gcTotalMs),
    flushMaxMs: pick((x) => x.flushMaxMs),
    involuntarySwitches: pick((x) => x.involuntarySwitches),
    latency: {
      p50: pick((x) => x.latency.p50),
      p99: pick((x) => x.latency.p99),
      max: pick((x) => x.latency.max),
      n: pick((x) => x.latency.n),
    },
    headLatencyMs: pick((x) => x.headLatencyMs),
    tailLatencyMs: pick((x) => x.tailLatencyMs),
    runs,
  };
  const scenario = `${variant} ${plan.label}`;
  const result =
    `${r.throughput} frames/s at the subscriber, loss ${r.loss}/${r.sent}, CPU ${r.cpuPct} % (${r.cpuUsPerFrame} µs/frame), peak RSS ${r.rssPeakMb} MB, ` +
    `stored ${r.readingsStored}, latency p50 ${r.latency.p50} / p99 ${r.latency.p99} / max ${r.latency.max} ms`;
  const rows: Row[] = [];
  if (plan.rate === 8000) {
    rows.push({ case: caseName, scenario, result, target: '0 loss, < 50 % of a core', met: r.loss === 0 && r.cpuPct < 50, data: r });
  } else if (plan.rate === 0 && targets.flatOut) {
    // End to end, the gateway shares this machine's cores with the broker and the subscriber: its own
    // capacity is the frames it handles per second of its own CPU time.
    const capacity = round(1e6 / r.cpuUsPerFrame);
    rows.push({
      case: caseName,
      scenario,
      result: `${result}; gateway capacity ${capacity} frames/s per core (broker ${r.brokerCpuPct} %, subscriber ${r.subscriberCpuPct} % of a core)`,
      target: `>= ${targets.flatOut / 1000}k frames/s (gateway capacity)`,
      met: capacity >= targets.flatOut && r.loss === 0,
      data: { ...r, capacity },
    });
  } else if (plan.rate === 1000) {
    rows.push({ case: caseName, scenario, result, target: 'frame -> MQTT p99 < 5 ms', met: r.latency.p99 < 5 && r.loss === 0, data: r });
  } else {
    rows.push({ case: caseName, scenario, result, target: '0 loss', met: r.loss === 0, data: r });
  }
  return rows;
}

async function simRun(broker: Mosquitto, plan: FlowPlan, options: BenchOptions): Promise<FlowResult> {
  return withTempDir(async (dir) => {
    const gateway = new BenchProcess({ cpuProfDir: options.cpuProfDir });
    try {
      await gateway.start({ role: 'gateway', config: benchConfig(dir, broker.url), sourceNodes: SOURCE_NODES });
      const subscriber = await Subscriber.connect(broker.url);
      try {
        await sleep(1500); // every node announced, discovery and retained state published
        return await measureFlow({ gateway, source: gateway, subscriber, brokerPid: broker.pid }, plan.rate, plan.frames);
      } finally {
        await subscriber.close();
      }
    } finally {
      await gateway.stop();
    }
  });
}

export const canMqtt: BenchCase = {
  name: 'can-mqtt',
  description: 'CAN -> MQTT on the sim transport: throughput, loss, CPU, RSS, latency at 1k/4k/8k frames/s and flat out',
  run: (options) =>
    withMosquitto(async (broker) => {
      const rows: Row[] = [];
      for (const plan of flowPlans(options, 200_000)) {
        const runs: FlowResult[] = [];
        for (let i = 0; i < options.runs; i++) {
          const r = await simRun(broker, plan, options);
          options.log(`  sim ${plan.label} run ${i + 1}: ${describeRun(r)}`);
          runs.push(r);
        }
        rows.push(...flowRows('can-mqtt', 'sim', plan, runs, { flatOut: 40_000 }));
      }
      return rows;
    }),
};
