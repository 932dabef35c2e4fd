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

  private constructor(readonly client: MqttClient) {}

  static async connect(url: string, baseTopic = 'canplug'): Promise<Subscriber> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, clientId: `canplug-bench-${process.pid}` });
    const subscriber = new Subscriber(client);
    client.on('message', (_topic, payload, packet) => {
      if (!packet.retain) subscriber.onState(payload);
    });
    // State topics only (`<base>/<device>`), not availability, set or bridge topics.
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
    const counter = counterOf({ voltage: numberAfter(payload, VOLTAGE), current: numberAfter(payload, CURRENT) });
    if (counter === undefined || counter >= this.arrivals.length || this.arrivals[counter] > 0) return;
    this.arrivals[counter] = at;
    this.received++;
    this.lastArrival = at;
  }
}

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
