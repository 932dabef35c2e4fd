/**
 * A simulated original 2021 socket (legacy profile "seed"): sends voltage, current, power and
 * humidity as "<b6>.<b7>" frames, and switches on the whole-frame commands 01 00.. / 00 00..
 */
import type { CanFrame } from './frame.js';
import { encodeSeed, SEED_COMMAND_ID } from './seed-codec.js';

export class SimSeedSocket {
  relay = true;
  humidity = 50;
  loadWatts = 60;
  private timer: NodeJS.Timeout | undefined;
  private send: (frame: CanFrame) => void = () => {};

  constructor(private readonly reportPeriodMs = 1000) {}

  start(send: (frame: CanFrame) => void): void {
    this.send = send;
    this.timer = setInterval(() => this.report(), this.reportPeriodMs);
    queueMicrotask(() => this.report());
  }

  stop(): void {
    clearInterval(this.timer);
    this.send = () => {};
  }

  receive(frame: CanFrame): void {
    // The original firmware compares the whole frame and ignores anything else.
    if (frame.id !== SEED_COMMAND_ID || frame.data.length !== 8 || frame.data.subarray(1).some((b) => b !== 0)) return;
    if (frame.data[0] === 1) this.relay = true;
    else if (frame.data[0] === 0) this.relay = false;
    this.report();
  }

  private report(): void {
    const power = this.relay ? this.loadWatts : 0;
    const voltage = 230.5;
    this.send(encodeSeed({ type: 'seed', quantity: 'voltage', value: voltage }));
    this.send(encodeSeed({ type: 'seed', quantity: 'current', value: Math.round((power / voltage) * 10) / 10 }));
    this.send(encodeSeed({ type: 'seed', quantity: 'power', value: power }));
    this.send(encodeSeed({ type: 'seed', quantity: 'humidity', value: this.humidity }));
  }
}
