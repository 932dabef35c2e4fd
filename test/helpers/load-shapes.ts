/**
 * An hour in a home, as the sockets' frames would carry it: six appliances with realistic load shapes
 * (a fridge cycling, a thermostat heater, a TV, a washing machine, a desk computer, a lamp switched by
 * hand), mains voltage that wanders and sags under load, room humidity and temperature with sensor
 * noise and a shower. Each simulated second a node sends what the firmware sends at the default report
 * period: heartbeat, power and environment frames, and an energy frame every 10 s, encoded and decoded
 * through the codec (the firmware's resolution: 0.1 V, 1 mA, 0.1 W, 0.1 %RH, 0.1 °C, 1 Wh).
 * Deterministic (seeded), so a measurement can be repeated exactly.
 */
import { encode, type Message, type Status } from '../../src/can/codec.js';
import type { CanFrame } from '../../src/can/frame.js';

export interface Moment {
  relay: boolean;
  /** W drawn with the relay closed, at 230 V (resistive loads scale with the voltage squared). */
  watts: number;
  resistive?: boolean;
  humidity: number;
  temperature: number;
}

export interface Appliance {
  name: string;
  at(second: number): Moment;
}

/** mulberry32: small, seeded, good enough for noise. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gaussian noise (Box-Muller). */
const gauss = (rng: () => number) => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());

/** A room's air: slow drift plus sensor noise; `shower` adds a humid spell (minutes from, to). */
function room(rng: () => number, humidity: number, temperature: number, shower?: [number, number]) {
  return (s: number) => {
    let h = humidity + 2 * Math.sin((2 * Math.PI * s) / 5400) + 0.15 * gauss(rng);
    if (shower) {
      const [from, to] = shower.map((m) => m * 60);
      if (s >= from && s < to) h += 22 * ((s - from) / (to - from));
      else if (s >= to) h += 22 * Math.exp(-(s - to) / 900);
    }
    return { humidity: h, temperature: temperature + 0.4 * Math.sin((2 * Math.PI * s) / 7200) + 0.05 * gauss(rng) };
  };
}

export function homeAppliances(seed = 19): Appliance[] {
  const rng = random(seed);
  const air = room(rng, 48, 21.5);
  const bathroom = room(rng, 55, 22.5, [20, 30]);
  const kitchen = room(rng, 52, 22);
  let tv = 115;
  let desk = 80;
  let deskBurst = 0;
  return [
    {
      // Compressor 15 min on / 25 min off; a start-up surge, then a slowly falling draw; the controller when off.
      name: 'fridge',
      at: (s) => {
        const phase = (s + 600) % 2400;
        const on = phase < 900;
        const watts = on ? (phase < 2 ? 350 : 95 - (10 * phase) / 900 + 1.2 * gauss(rng)) : 1.2 + 0.05 * gauss(rng);
        return { relay: true, watts, ...kitchen(s) };
      },
    },
    {
      // Bathroom heater on a thermostat: 4 min on, 8 min off; a shower from minute 20 to 30.
      name: 'heater',
      at: (s) => ({ relay: true, watts: s % 720 < 240 ? 2000 : 0, resistive: true, ...bathroom(s) }),
    },
    {
      // TV: standby, then 25 min of programme whose picture moves the draw by several watts a second.
      name: 'tv',
      at: (s) => {
        const on = s >= 1800 && s < 3300;
        tv += 0.2 * (115 - tv) + 4 * gauss(rng);
        return { relay: true, watts: on ? tv : 0.6, ...air(s) };
      },
    },
    {
      // Washing machine from minute 5: 12 min heating with the drum turning, 30 min washing (motor pulses), 5 min spinning.
      name: 'washer',
      at: (s) => {
        const m = (s - 300) / 60;
        const drum = Math.floor(s / 15) % 2 === 0;
        let watts = 0.5;
        if (m >= 0 && m < 12) watts = 2100 + (drum ? 150 : 0) + 10 * gauss(rng);
        else if (m >= 12 && m < 42) watts = drum ? 250 + 30 * gauss(rng) : 20;
        else if (m >= 42 && m < 47) watts = 500 + 60 * gauss(rng);
        return { relay: true, watts, ...kitchen(s) };
      },
    },
    {
      // Desk computer and monitor: idle around 80 W with bursts of work up to 200 W.
      name: 'desk',
      at: (s) => {
        if (deskBurst > 0) deskBurst--;
        else if (rng() < 0.01) deskBurst = 30 + Math.floor(rng() * 240);
        desk += 0.3 * ((deskBurst > 0 ? 190 : 80) - desk) + 3 * gauss(rng);
        return { relay: true, watts: desk, ...air(s) };
      },
    },
    {
      // A lamp switched by hand: off, on for 20 min, off, on again.
      name: 'lamp',
      at: (s) => ({ relay: (s >= 600 && s < 1800) || s >= 2700, watts: 9 + 0.1 * gauss(rng), ...air(s) }),
    },
  ];
}

/** The frames the socket on `node` sends for each second of its appliance's hour (heartbeat, power, environment; energy every 10 s). */
export class NodeFrames {
  private energyWh = 1000;
  private energyFraction = 0;
  private seq = 0;

  constructor(
    readonly node: number,
    private readonly appliance: Appliance,
  ) {}

  /** `voltage`: the mains at the socket this second, before the socket's own load sags it. */
  second(s: number, mains: number): CanFrame[] {
    const m = this.appliance.at(s);
    const amps = m.relay ? m.watts / 230 : 0;
    const voltage = mains - 0.4 * amps; // the wiring's resistance
    const power = m.relay ? Math.max(0, m.resistive ? (m.watts * voltage * voltage) / (230 * 230) : m.watts) : 0;
    this.energyFraction += power / 3600;
    const whole = Math.floor(this.energyFraction);
    this.energyWh += whole;
    this.energyFraction -= whole;
    const status: Status = { relay: m.relay, humidityLatched: false, powerLatched: false, sensorFault: false };
    const seq = this.seq++ & 0xff;
    const messages: Message[] = [
      { type: 'heartbeat', node: this.node, state: 'running', protocol: 1, firmware: '1.0', uptime: 86_400 + s },
      { type: 'power', node: this.node, voltage, current: power / voltage, power, status, seq },
      {
        type: 'environment',
        node: this.node,
        humidity: m.humidity,
        temperature: m.temperature,
        humidityLimit: 80,
        hysteresis: 10,
        status,
        seq,
      },
    ];
    if (s % 10 === 0) messages.push({ type: 'energy', node: this.node, energyWh: this.energyWh, uptime: 86_400 + s });
    return messages.map(encode);
  }
}

/** Mains voltage through the hour: a slow wander of a few volts and a little fast noise. */
export function mains(seed = 7): (s: number) => number {
  const rng = random(seed);
  return (s) => 231 + 3 * Math.sin((2 * Math.PI * s) / 2700) + 0.25 * gauss(rng);
}

/**
 * Replaces the monotonic clock (performance.now, which src/gateway/clock.ts reads) with a simulated
 * one that moves only on `advance`: an hour of frames runs in seconds, and the gateway's timeouts,
 * deadlines, node checks and publish policy see exactly the simulated hour, however loaded the
 * machine is. Wall-clock time (Date) and timers are left alone.
 */
export function simulatedClock(): { advance(ms: number): void; restore(): void } {
  const real = performance.now.bind(performance);
  // A whole number of ms, so whole seconds added stay exact (a fraction would make 300 s come out as 299.999...).
  let now = Math.ceil(real());
  performance.now = () => now;
  return {
    advance: (ms) => (now += ms),
    restore: () => {
      performance.now = real;
    },
  };
}
