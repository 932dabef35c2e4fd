/**
 * One slice of the pi-budget case: a gateway (canplug, or the Node-RED peer) already running in a
 * CPU slice, a frame source outside it, a subscriber. Steps up a ladder of rates until one is not
 * lossless, and measures the humidity trip under a flood at the highest lossless rate.
 */
import { measureFlow, SOURCE_NODES, type FlowResult, type FlowSetup } from '../cases/can-mqtt.js';
import type { CpuSlice, SliceUsage } from './cpu-slice.js';
import { percentiles, round, type Percentiles } from './stats.js';

export interface LadderStep extends FlowResult {
  /** Frames the kernel dropped on the gateway's socket queue during the run. */
  kernelDrops: number;
  /** The slice's accounting over the run: throttled periods and time (the quota ran out). */
  throttledPeriods: number;
  throttledMs: number;
  lossless: boolean;
}

export interface SliceResult {
  percent: number;
  /** The highest rate of the ladder that was lossless (0: none). */
  ceiling: number;
  steps: LadderStep[];
  /** Humidity frame -> open command, ms, under a flood at the ceiling (canplug only), and the trips with no open command. */
  trips?: Percentiles & { missed: number };
}

/** How much later than the run's first frames its last ones may arrive before the gateway counts as not keeping up. */
export const KEPT_UP_MS = 250;

/**
 * Lossless: every counted frame reached the subscriber, the kernel dropped none, and the pipeline
 * kept up: the last 5 % of the frames took at most KEPT_UP_MS longer than the first 5 % (medians).
 * A backlog that grows through the run is a loss deferred: on a bus that never pauses the queue
 * overflows in the end. A latency that is high but steady (a slow guest) is not a backlog.
 */
export function isLossless(step: Omit<LadderStep, 'lossless'>): boolean {
  return step.loss === 0 && step.kernelDrops === 0 && step.tailLatencyMs - step.headLatencyMs < KEPT_UP_MS;
}

export interface LadderPlan {
  rates: number[];
  seconds: number;
  /** Also run these rates (the goals), whether or not the ladder got there. */
  always?: number[];
  log: (line: string) => void;
}

/** Runs the ladder; a gateway whose flows report no kernel drops (the peer) counts them as 0. */
export async function climb(setup: FlowSetup, slice: CpuSlice, plan: LadderPlan): Promise<Pick<SliceResult, 'ceiling' | 'steps'>> {
  const steps: LadderStep[] = [];
  let ceiling = 0;
  let failed = false;
  for (const rate of plan.rates) {
    if (failed && !plan.always?.includes(rate)) continue;
    const usage0: SliceUsage = slice.usage();
    const flow = await measureFlow(setup, rate, Math.round(rate * plan.seconds));
    const usage1 = slice.usage();
    const partial = {
      ...flow,
      throttledPeriods: usage1.throttledPeriods - usage0.throttledPeriods,
      throttledMs: round(usage1.throttledMs - usage0.throttledMs),
    };
    const step = { ...partial, lossless: isLossless(partial) };
    steps.push(step);
    plan.log(
      `    ${rate} frames/s: ${step.lossless ? 'lossless' : 'NOT lossless'}; ${step.received}/${step.sent} at ${step.throughput}/s, ` +
        `${step.kernelDrops} kernel drops, p50/p99 ${step.latency.p50}/${step.latency.p99} ms (first/last frames ${step.headLatencyMs}/${step.tailLatencyMs}), CPU ${step.cpuPct} % (${step.cpuUsPerFrame} µs/frame), ` +
        `RSS ${step.rssPeakMb} MB, throttled ${step.throttledPeriods} periods`,
    );
    if (step.lossless && !failed) ceiling = rate;
    else failed = true;
  }
  return { ceiling, steps };
}

/** The humidity trips of nodes 1-16 in turn, every 300 ms, during a flood at `rate` (the source counts them). */
export async function tripsUnderFlood(setup: FlowSetup, rate: number): Promise<Percentiles & { missed: number }> {
  const ms = await setup.source.floodTrips(rate, (SOURCE_NODES.length * 300) / 1000 + 1, SOURCE_NODES, 300);
  return { ...percentiles(ms.filter((x) => x >= 0)), missed: ms.filter((x) => x < 0).length };
}

/** The step at `rate`, if it ran. */
export function stepAt(result: Pick<SliceResult, 'steps'>, rate: number): LadderStep | undefined {
  return result.steps.find((s) => s.rate === rate);
}
