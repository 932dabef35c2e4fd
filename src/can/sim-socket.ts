/**
 * A simulated smart socket that behaves like the firmware (firmware/README.md): heartbeat,
 * periodic power/environment/energy reports, command replies, the humidity interlock with
 * latch and hysteresis, and the over-power trip. Used by the `sim` transport, `canplug sim`
 * on a real interface, and the tests. Tests can steer it (humidity, load) and break it
 * (interlock off, welded relay, silent node).
 */
import {
  decode,
  encode,
  EventCode,
  Opcode,
  PROTOCOL_VERSION,
  type Command,
  type Message,
  type ReplyResultName,
  type Status,
} from './codec.js';
import type { CanFrame } from './frame.js';

export interface SimSocketOptions {
  node: number;
  /** Load in watts when the relay is closed. */
  loadWatts?: number;
  humidity?: number;
  temperature?: number;
  relay?: boolean;
  humidityLimit?: number;
  hysteresis?: number;
  reportPeriodMs?: number;
  heartbeatPeriodMs?: number;
  /** Random walk of humidity and load, for a lively demo; off for deterministic tests. */
  wander?: boolean;
  firmware?: string;
  /** Energy counter at start, Wh. */
  energyWh?: number;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

export class SimSocket {
  readonly node: number;
  relay: boolean;
  humidity: number;
  temperature: number;
  loadWatts: number;
  humidityLimit: number;
  hysteresis: number;
  powerLimitW = 0;
  humidityLatched = false;
  powerLatched = false;
  sensorFault = false;
  energyWh: number;
  /** Test switches that break the node the ways real nodes break. */
  interlockEnabled = true;
  weldedRelay = false;
  silent = false;
  /** Off: the environment frames stop (a dead humidity sensor path) while the rest goes on. */
  sendEnvironment = true;
  /** Called with every command addressed to this node, when it arrives. */
  onCommand: (command: Command, at: number) => void = () => {};
  /** Frames this socket received, newest last (for tests). */
  readonly received: Message[] = [];

  private reportPeriodMs: number;
  private readonly heartbeatPeriodMs: number;
  private readonly wander: boolean;
  private readonly firmware: string;
  // The node's own clock: monotonic, as a real node's uptime counter (the host's date may jump).
  private readonly startedAt = performance.now();
  private powerSeq = 0;
  private envSeq = 0;
  private reportCount = 0;
  private energyFraction = 0;
  private lastEnergyAt = performance.now();
  private timers: NodeJS.Timeout[] = [];
  private reportTimer: NodeJS.Timeout | undefined;
  private rearmAnnounced = false;
  private send: (frame: CanFrame) => void = () => {};

  constructor(options: SimSocketOptions) {
    this.node = options.node;
    this.relay = options.relay ?? true;
    this.humidity = options.humidity ?? 45;
    this.temperature = options.temperature ?? 21;
    this.loadWatts = options.loadWatts ?? 100;
    this.humidityLimit = options.humidityLimit ?? 80;
    this.hysteresis = options.hysteresis ?? 10;
    this.reportPeriodMs = options.reportPeriodMs ?? 1000;
    this.heartbeatPeriodMs = options.heartbeatPeriodMs ?? 1000;
    this.wander = options.wander ?? false;
    this.firmware = options.firmware ?? '1.0';
    this.energyWh = options.energyWh ?? 0;
  }

  /** Connects the socket to a bus: `send` puts a frame on it. Boots like the firmware. */
  start(send: (frame: CanFrame) => void): void {
    this.send = send;
    this.emit({ type: 'heartbeat', node: this.node, state: 'boot', protocol: PROTOCOL_VERSION, firmware: this.firmware, uptime: 0 });
    this.timers.push(setInterval(() => this.heartbeat(), this.heartbeatPeriodMs));
    this.scheduleReports();
    queueMicrotask(() => this.heartbeat());
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.send = () => {};
  }

  /** A frame from the bus. */
  receive(frame: CanFrame): void {
    const result = decode(frame);
    if (!result.ok) return;
    const message = result.message;
    if (message.type === 'discovery' && (message.target === 0 || message.target === this.node)) {
      this.heartbeat();
      return;
    }
    if (message.type !== 'command' || message.node !== this.node) return;
    this.received.push(message);
    if (this.received.length > 100) this.received.shift();
    this.onCommand(message.command, performance.now());
    const result2 = this.execute(message.command);
    this.emit({
      type: 'reply',
      node: this.node,
      opcode: Opcode[message.command.op],
      token: message.token,
      result: result2,
      status: this.status(),
      detail: 0,
    });
    if (message.command.op === 'reportNow') this.report(true);
  }

  /** Sets the measured humidity and runs the protection at once, as the firmware's protect task does. */
  setHumidity(value: number): void {
    this.humidity = value;
    this.protect();
  }

  setLoad(watts: number): void {
    this.loadWatts = watts;
    this.protect();
  }

  /** Sends power and environment frames now, as the node does after a command or an event. */
  reportNow(): void {
    this.report(false);
  }

  setReportPeriod(ms: number): void {
    this.reportPeriodMs = ms;
    this.scheduleReports();
  }

  status(): Status {
    return {
      relay: this.relay,
      humidityLatched: this.humidityLatched,
      powerLatched: this.powerLatched,
      sensorFault: this.sensorFault,
    };
  }

  get voltage(): number {
    return 230;
  }

  get power(): number {
    return this.relay ? this.loadWatts : 0;
  }

  get uptime(): number {
    return Math.floor((performance.now() - this.startedAt) / 1000);
  }

  private execute(command: Command): ReplyResultName {
    switch (command.op) {
      case 'setRelay': {
        const close = command.action === 'close' || (command.action === 'toggle' && !this.relay);
        if (!close) {
          this.openRelay();
          return 'ok';
        }
        // A close while latched re-arms only if the condition has cleared.
        if (this.humidityLatched && !this.tryRearm()) return 'interlocked';
        if (this.powerLatched) this.powerLatched = false;
        if (this.interlockEnabled && this.humidity >= this.humidityLimit) return 'interlocked';
        this.relay = true;
        this.protect();
        return this.relay ? 'ok' : 'interlocked';
      }
      case 'reportNow':
        return 'ok';
      case 'setHumidityLimit':
        if (command.limit < 1 || command.limit > 100 || command.hysteresis >= command.limit) return 'badArgument';
        this.humidityLimit = command.limit;
        this.hysteresis = command.hysteresis;
        this.protect();
        return 'ok';
      case 'resetLatch':
        if (this.humidityLatched && !this.tryRearm()) return 'interlocked';
        this.powerLatched = false;
        return 'ok';
      case 'setReportPeriod':
        if (command.ms < 100 || command.ms > 60000) return 'badArgument';
        this.setReportPeriod(command.ms);
        return 'ok';
      case 'identify':
        return 'ok';
      case 'setPowerLimit':
        this.powerLimitW = command.watts;
        this.protect();
        return 'ok';
      case 'setPowerOnState':
        return 'ok';
    }
  }

  private tryRearm(): boolean {
    if (this.humidity < this.humidityLimit - this.hysteresis) {
      this.humidityLatched = false;
      return true;
    }
    return false;
  }

  private openRelay(): void {
    if (!this.weldedRelay) this.relay = false;
  }

  /** The firmware's protect task: never waits on the CAN path. */
  private protect(): void {
    if (!this.interlockEnabled) return;
    if (this.humidity >= this.humidityLimit) {
      if (!this.humidityLatched) {
        this.humidityLatched = true;
        this.openRelay();
        this.event(EventCode.humidityTrip, Math.round(this.humidity * 10));
      }
      this.rearmAnnounced = false;
    } else if (this.humidityLatched && this.humidity < this.humidityLimit - this.hysteresis && !this.rearmAnnounced) {
      this.rearmAnnounced = true;
      this.event(EventCode.humidityRearmed, Math.round(this.humidity * 10));
    }
    if (this.powerLimitW > 0 && this.power > this.powerLimitW && !this.powerLatched) {
      this.powerLatched = true;
      const watts = this.power;
      this.openRelay();
      this.event(EventCode.overPowerTrip, Math.round(watts * 10));
    }
  }

  private event(code: number, value: number): void {
    this.emit({ type: 'event', node: this.node, code, flags: 0, value, uptime: this.uptime });
    this.report(false);
  }

  private heartbeat(): void {
    this.emit({
      type: 'heartbeat',
      node: this.node,
      state: this.sensorFault ? 'fault' : 'running',
      protocol: PROTOCOL_VERSION,
      firmware: this.firmware,
      uptime: this.uptime,
    });
  }

  private scheduleReports(): void {
    if (this.reportTimer) clearInterval(this.reportTimer);
    this.reportTimer = setInterval(() => this.tick(), this.reportPeriodMs);
    this.timers.push(this.reportTimer);
  }

  private tick(): void {
    if (this.wander) {
      this.humidity = clamp(this.humidity + (Math.random() - 0.5) * 0.6, 20, 95);
      this.temperature = clamp(this.temperature + (Math.random() - 0.5) * 0.1, 5, 40);
      this.loadWatts = clamp(this.loadWatts * (1 + (Math.random() - 0.5) * 0.04), 0, 3000);
    }
    this.protect();
    this.accumulateEnergy();
    this.report(this.reportCount++ % 10 === 0);
  }

  private accumulateEnergy(): void {
    const now = performance.now();
    this.energyFraction += (this.power * (now - this.lastEnergyAt)) / 3_600_000;
    this.lastEnergyAt = now;
    const whole = Math.floor(this.energyFraction);
    this.energyWh += whole;
    this.energyFraction -= whole;
  }

  private report(withEnergy: boolean): void {
    const status = this.status();
    const voltage = this.voltage + (this.wander ? (Math.random() - 0.5) * 2 : 0);
    this.emit({
      type: 'power',
      node: this.node,
      voltage,
      current: this.power / voltage,
      power: this.power,
      status,
      seq: this.powerSeq++ & 0xff,
    });
    if (this.sendEnvironment)
      this.emit({
        type: 'environment',
        node: this.node,
        humidity: this.humidity,
        temperature: this.temperature,
        humidityLimit: this.humidityLimit,
        hysteresis: this.hysteresis,
        status,
        seq: this.envSeq++ & 0xff,
      });
    if (withEnergy) this.emit({ type: 'energy', node: this.node, energyWh: this.energyWh, uptime: this.uptime });
  }

  private emit(message: Message): void {
    if (!this.silent) this.send(encode(message));
  }
}
