/**
 * The measuring MQTT client: subscribes to the devices' state topics and notes, for every counted
 * frame (see frame-source.ts), when its state message first arrived.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { counterOf } from './frame-source.js';
import { now, sleep } from './stats.js';

export class Subscriber {
  private arrivals = new Float64Array(0);
  /** Distinct counted frames seen in the current window. */
  received = 0;
  /** State messages seen, counted or not. */
  messages = 0;
  lastArrival = 0;

  private constructor(
    readonly client: MqttClient,
    private readonly counterOf: (payload: Buffer) => number | undefined,
  ) {}

  /**
   * `topics`: canplug's state topics by default (`<base>/<device>`, not availability, set or bridge
   * topics); `counter` reads a payload's frame counter (default: a canplug state message).
   */
  static async connect(
    url: string,
    baseTopic = 'canplug',
    counter: (payload: Buffer) => number | undefined = stateCounter,
  ): Promise<Subscriber> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, clientId: `canplug-bench-${process.pid}` });
    const subscriber = new Subscriber(client, counter);
    client.on('message', (_topic, payload, packet) => {
      if (!packet.retain) subscriber.onState(payload);
    });
    await client.subscribeAsync(`${baseTopic}/+`, { qos: 0 });
    return subscriber;
  }

  /** Starts counting a window of `frames` counted frames. */
  expect(frames: number): void {
    this.arrivals = new Float64Array(frames);
    this.received = 0;
    this.messages = 0;
    this.lastArrival = 0;
  }

  /** Resolves once every frame arrived, or when nothing new arrived for `quietMs`. */
  async settle(frames: number, quietMs = 2000): Promise<void> {
    let seen = -1;
    let since = performance.now();
    while (this.received < frames) {
      if (this.received !== seen) [seen, since] = [this.received, performance.now()];
      if (performance.now() - since > quietMs) return;
      await sleep(20);
    }
  }

  /** Delays (ms) from each frame's send time to its first state message; NaN where none arrived. */
  latencies(sendTimes: Float64Array): Float64Array {
    const out = new Float64Array(sendTimes.length);
    for (let i = 0; i < sendTimes.length; i++) out[i] = this.arrivals[i] > 0 ? this.arrivals[i] - sendTimes[i] : Number.NaN;
    return out;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }

  private onState(payload: Buffer): void {
    this.messages++;
    const at = now();
    const counter = this.counterOf(payload);
    if (counter === undefined || counter >= this.arrivals.length || this.arrivals[counter] > 0) return;
    this.arrivals[counter] = at;
    this.received++;
    this.lastArrival = at;
  }
}

/** The counter of a canplug state message (frame-source.ts). */
function stateCounter(payload: Buffer): number | undefined {
  return counterOf({ voltage: numberAfter(payload, VOLTAGE), current: numberAfter(payload, CURRENT) });
}

/**
 * The counter of a raw frame as a Node-RED flow publishes it (`{"canid":385,...,"data":[lo,hi,lo,hi,...]}`):
 * bytes 0-1 the low 16 bits, 2-3 the high 16, as frame-source.ts writes them. Power frames only (id 0x181-0x1ff).
 */
export function rawFrameCounter(payload: Buffer): number | undefined {
  const id = numberAfter(payload, CANID);
  if (id === undefined || id < 0x181 || id > 0x1ff) return undefined;
  const at = payload.indexOf(DATA);
  if (at < 0) return undefined;
  const bytes = payload
    .toString('latin1', at + DATA.length, payload.indexOf(0x5d, at))
    .split(',')
    .map(Number); // up to ]
  return bytes.length >= 4 ? bytes[0] + bytes[1] * 256 + (bytes[2] + bytes[3] * 256) * 65536 : undefined;
}

const CANID = Buffer.from('"canid":');
const DATA = Buffer.from('"data":[');
const VOLTAGE = Buffer.from('"voltage":');
const CURRENT = Buffer.from('"current":');

/**
 * The number after `key` in a JSON payload, without parsing the whole payload: on a 2-core machine
 * the measuring client's own CPU time competes with the gateway's, so it is kept small.
 */
function numberAfter(payload: Buffer, key: Buffer): number | undefined {
  const at = payload.indexOf(key);
  if (at < 0) return undefined;
  const start = at + key.length;
  let end = start;
  while (end < payload.length && payload[end] !== 0x2c && payload[end] !== 0x7d) end++; // up to , or }
  const value = Number(payload.toString('latin1', start, end));
  return Number.isFinite(value) ? value : undefined;
}
