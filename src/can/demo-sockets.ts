/** The simulated sockets of the demo and of `canplug sim`: a lamp, a heater and a fridge, then more of the same. */
import { SimSeedSocket } from './sim-seed-socket.js';
import { SimSocket } from './sim-socket.js';

/** Loads of the simulated sockets in turn, W. */
export const DEMO_LOADS = [60, 800, 120];

export interface DemoOptions {
  protocol: 'v1' | 'seed';
  nodes: number[];
  reportPeriodMs: number;
  humidityLimit: number;
  hysteresis: number;
  wander: boolean;
  /** Starting humidity of every socket; default 40, 45, 50, 55 %RH in turn. */
  humidity?: number;
}

/** Builds (does not start) one socket per node, or the single legacy socket. */
export function createDemoSockets(o: DemoOptions): { sockets: SimSocket[]; seed: SimSeedSocket | undefined } {
  if (o.protocol === 'seed') {
    const seed = new SimSeedSocket(o.reportPeriodMs);
    if (o.humidity !== undefined) seed.humidity = o.humidity;
    return { sockets: [], seed };
  }
  const sockets = o.nodes.map(
    (node, i) =>
      new SimSocket({
        node,
        loadWatts: DEMO_LOADS[i % DEMO_LOADS.length],
        humidity: o.humidity ?? 40 + 5 * (i % 4),
        reportPeriodMs: o.reportPeriodMs,
        humidityLimit: o.humidityLimit,
        hysteresis: o.hysteresis,
        wander: o.wander,
      }),
  );
  return { sockets, seed: undefined };
}
