/**
 * The Wi-Fi plug listener: receives the plugs' UDP broadcasts, registers each plug as a device
 * (`wifi:<chipId>`), keeps its last values, marks it offline when broadcasts stop, and feeds its
 * readings to the registry like a CAN socket's. Malformed datagrams are counted and logged at
 * debug, and never create a device. Switch confirmations (the next broadcast showing the new
 * state) are matched here for the relay driver.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Config } from '../config/config.js';
import { CommandTimeoutError, UnavailableError } from '../gateway/errors.js';
import type { Feature } from '../gateway/feature.js';
import type { Device, DeviceChange, Reading } from '../gateway/device.js';
import type { Registry } from '../gateway/registry.js';
import type { Logger } from '../log.js';
import { LogLimiter } from '../log-limiter.js';
import { Retry } from '../retry.js';
import { monotonicMs } from '../gateway/clock.js';
import { deviceNameFor, parseDatagram, relayFromPlugValue, Thing, type PlugDatagram } from './datagram.js';

export interface WifiPlugsDeps {
  registry: Registry;
  config: Config['udp'];
  log: Logger;
}

interface Waiter {
  on: boolean;
  resolve: (relay: boolean) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export interface RelayExpectation {
  /** Resolves with the relay state once a broadcast shows it. */
  confirmed: Promise<boolean>;
  /** Gives up waiting (the command could not be sent). */
  cancel(error: Error): void;
}

/** A broadcast this much early still counts as the next period's (Wi-Fi delivery jitter). */
const EARLY_FRACTION = 0.1;

export class WifiPlugs implements Feature {
  /**
   * Datagrams received; refused as malformed; from chip ids past udp.max_plugs; and excess, from a
   * plug that already reported this period (metrics, health).
   */
  readonly counters = { received: 0, malformed: 0, ignored: 0, excess: 0 };
  private socket: Socket | undefined;
  /** Where each plug's last broadcast came from: its WebSocket lives there. Weak: a removed plug's entry goes with it. */
  private readonly addresses = new WeakMap<Device, string>();
  /** monotonicMs() of each plug's last applied datagram. */
  private readonly lastApplied = new WeakMap<Device, number>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly logLimiter = new LogLimiter();
  private binding: Retry | undefined;

  constructor(private readonly deps: WifiPlugsDeps) {}

  async start(): Promise<void> {
    const { port, host } = this.deps.config;
    if (port === 0) {
      this.deps.log.info('Wi-Fi plug listener disabled (udp.port is 0)');
      return;
    }
    // A port that is taken is retried in the background, like HTTP's and the embedded broker's.
    this.binding = new Retry(`listen for Wi-Fi plugs on UDP ${host}:${port}`, () => this.bind(), this.deps.log);
    await this.binding.start();
  }

  private async bind(): Promise<void> {
    const { port, host } = this.deps.config;
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    socket.on('message', (message, remote) => {
      try {
        this.receive(message, remote);
      } catch (error) {
        // A failure past parsing (the database refusing a new device) must not take the listener down.
        const suppressed = this.logLimiter.take('not applied');
        if (suppressed !== undefined)
          this.deps.log.error(
            { from: remote.address, err: (error as Error).message, ...(suppressed ? { suppressed } : {}) },
            'Wi-Fi plug datagram not applied',
          );
      }
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      socket.close();
      throw error;
    }
    socket.on('error', (error) => this.deps.log.error({ err: error.message }, 'Wi-Fi plug UDP socket error'));
    this.socket = socket;
    this.deps.log.info({ host, port: this.port }, 'listening for Wi-Fi plug broadcasts');
  }

  stop(): void {
    this.binding?.stop();
    for (const [key, waiter] of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new UnavailableError('the gateway is shutting down'));
      this.waiters.delete(key);
    }
    this.socket?.close();
    this.socket = undefined;
  }

  /** The bound UDP port (the configured one, or the one the OS chose). */
  get port(): number | undefined {
    return this.socket?.address().port;
  }

  stats(): { listening: boolean; error?: string; port?: number; datagrams: number; malformed: number; ignored: number; excess: number } {
    const { received, malformed, ignored, excess } = this.counters;
    const error = this.binding?.state().error;
    return {
      listening: this.socket !== undefined,
      ...(error ? { error } : {}),
      ...(this.port ? { port: this.port } : {}),
      datagrams: received,
      malformed,
      ignored,
      excess,
    };
  }

  /** The address the plug's last broadcast came from, if it has sent one since the gateway started. */
  address(device: Device): string | undefined {
    return this.addresses.get(device);
  }

  /** Waits for a broadcast showing the relay `on`; a newer expectation for the same plug supersedes this one. */
  expectRelay(device: Device, on: boolean, timeoutMs: number): RelayExpectation {
    const key = device.key;
    const previous = this.waiters.get(key);
    if (previous) {
      clearTimeout(previous.timer);
      previous.reject(new UnavailableError(`superseded by a newer switch command for ${device.name}`));
    }
    let waiter!: Waiter;
    const confirmed = new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(
          new CommandTimeoutError(`${device.name} did not confirm: no broadcast showing it ${on ? 'ON' : 'OFF'} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      waiter = { on, resolve, reject, timer };
    });
    this.waiters.set(key, waiter);
    // The caller awaits `confirmed` later; until then a rejection must not count as unhandled.
    confirmed.catch(() => {});
    return {
      confirmed,
      cancel: (error) => {
        if (this.waiters.get(key) !== waiter) return;
        clearTimeout(waiter.timer);
        this.waiters.delete(key);
        waiter.reject(error);
      },
    };
  }

  /** Handles one datagram (public for the listener; tests send real datagrams). */
  receive(bytes: Buffer, remote: Pick<RemoteInfo, 'address'>, now = Date.now()): void {
    this.counters.received++;
    const result = parseDatagram(bytes, this.deps.config.max_datagram_bytes);
    if (!result.ok) {
      this.counters.malformed++;
      const suppressed = this.logLimiter.take('malformed');
      if (suppressed !== undefined)
        this.deps.log.debug(
          { from: remote.address, bytes: bytes.length, error: result.error, ...(suppressed ? { suppressed } : {}) },
          'malformed Wi-Fi plug datagram',
        );
      return;
    }
    const device = this.device(result.datagram);
    if (!device) return;
    // One datagram per plug and period is applied and stored; a sender flooding the port (or
    // spoofing a plug) gets its excess counted, not written. The exception is the broadcast the
    // firmware sends right after a switch, showing the state a command waits for: as many as the
    // gateway sent commands.
    const mono = monotonicMs();
    const last = this.lastApplied.get(device);
    const early = last !== undefined && mono - last < this.deps.config.report_period_ms * (1 - EARLY_FRACTION);
    if (early && !this.confirms(device, result.datagram)) {
      this.counters.excess++;
      return;
    }
    if (!early) this.lastApplied.set(device, mono);
    this.addresses.set(device, remote.address);
    this.apply(device, result.datagram, now);
  }

  private device(d: PlugDatagram): Device | undefined {
    const { registry, config, log } = this.deps;
    const key = `wifi:${d.chipId}`;
    const known = registry.byKey(key);
    if (known) return known;
    if (registry.list().filter((x) => x.kind === 'wifi').length >= config.max_plugs) {
      this.counters.ignored++;
      const suppressed = this.logLimiter.take('max_plugs');
      if (suppressed !== undefined)
        log.warn(
          { chipId: d.chipId, max: config.max_plugs, ...(suppressed ? { suppressed } : {}) },
          'new Wi-Fi plug ignored: udp.max_plugs reached',
        );
      return undefined;
    }
    return registry.ensure(key, 'wifi', deviceNameFor(d.nodeName) ?? `plug-${d.chipId}`);
  }

  /** Whether the datagram shows the relay state a switch command is waiting for. */
  private confirms(device: Device, d: PlugDatagram): boolean {
    const plug = d.values.get(Thing.plug);
    const waiter = this.waiters.get(device.key);
    return waiter !== undefined && plug !== undefined && relayFromPlugValue(plug) === waiter.on;
  }

  private resolveWaiter(device: Device, waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(device.key);
    waiter.resolve(waiter.on);
  }

  private apply(device: Device, d: PlugDatagram, now: number): void {
    const { registry, config } = this.deps;
    registry.markSeen(device, now, config.offline_timeout_ms);
    const plug = d.values.get(Thing.plug);
    const watts = d.values.get(Thing.watts);
    const relay = plug === undefined ? undefined : relayFromPlugValue(plug);
    const estimate = d.values.get(Thing.dailyWattHours);
    const clock = d.texts.get(Thing.clock);
    const change: DeviceChange = {
      state: { ...(plug !== undefined ? { relay } : {}), ...(watts !== undefined ? { power: watts } : {}) },
      info: { ...(estimate !== undefined ? { plugEnergyEstimateWh: estimate } : {}), ...(clock !== undefined ? { plugClock: clock } : {}) },
    };
    if (relay !== undefined || watts !== undefined) {
      const reading: Reading = { device, ts: now };
      if (relay !== undefined) reading.relay = relay;
      if (watts !== undefined) reading.power = watts;
      registry.reading(reading, change);
    } else {
      registry.update(device, change);
    }

    const waiter = this.waiters.get(device.key);
    if (waiter && relay === waiter.on) this.resolveWaiter(device, waiter);
  }
}
