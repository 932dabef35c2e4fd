/**
 * What CAN frames mean for devices: a heartbeat announces a node (the device `can:<node>`) and
 * keeps it online; power, environment and energy frames are measurements; a reply carries the
 * relay and latch status; an event frame goes to the event log. The legacy seed socket's readings
 * likewise. Counts frames lost from sequence gaps and holds back the frames of a node id that two
 * nodes share (docs/reliability.md). Like the Wi-Fi plugs, it asks the registry for every change.
 */
import type { CanBus } from '../can/can-bus.js';
import type { Message, Status } from '../can/codec.js';
import type { SeedReading } from '../can/seed-codec.js';
import type { Logger } from '../log.js';
import { monotonicMs } from './clock.js';
import type { Device, DeviceState } from './device.js';
import type { EventBus } from './events.js';
import { describeNodeEvent } from './node-events.js';
import { IdentityCheck, IDENTITY_WINDOW_MS } from './node-checks.js';
import type { Registry } from './registry.js';

export interface CanNodesDeps {
  registry: Registry;
  events: EventBus;
  /** Where the frames come from; a node heard before its heartbeat is asked there to announce itself. */
  bus: Pick<CanBus, 'on' | 'off' | 'discover'>;
  log: Logger;
}

interface NodeTracking {
  seq: { power?: number; environment?: number };
  /** The sensor fault of the last status, kept for the heartbeat's fault flag. */
  statusFault: boolean;
  /** Two nodes on one id (docs/reliability.md). */
  identity: IdentityCheck;
}

type NodeMessage = Exclude<Message, { type: 'discovery' | 'command' | 'heartbeat' | 'transfer' }>;

/** A node not yet announced is asked to announce itself at most this often. */
const ASK_EVERY_MS = 5000;

export class CanNodes {
  /** Frames lost on the bus, from seq gaps, all nodes. */
  framesLost = 0;
  /** Frames from a node id two nodes share: not applied (safety still checks them). */
  framesQuarantined = 0;
  /** Trips the nodes reported from their own interlock (the gateway's own: Safety.trips). */
  nodeTrips = 0;
  private readonly nodes = new Map<string, NodeTracking>();
  private readonly lastAsked = new Map<number, number>();
  private readonly onMessage = (message: Message) => this.handle(message);
  private readonly onSeed = (reading: SeedReading) => this.handleSeed(reading);
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: CanNodesDeps) {}

  start(): void {
    this.deps.bus.on('message', this.onMessage);
    this.deps.bus.on('seed', this.onSeed);
    this.unsubscribe = this.deps.events.subscribe('can-nodes', {
      'device.availability': (device) => {
        const t = this.nodes.get(device.key);
        // Frames missed while offline are not "lost" in the seq sense.
        if (t && !device.available) t.seq = {};
      },
      'device.removed': (device) => this.nodes.delete(device.key),
    });
  }

  stop(): void {
    this.deps.bus.off('message', this.onMessage);
    this.deps.bus.off('seed', this.onSeed);
    this.unsubscribe?.();
  }

  handle(message: Message, now = Date.now()): void {
    if (message.type === 'discovery' || message.type === 'command') return;
    if (message.type === 'heartbeat') return this.heartbeat(message, now);
    // Firmware transfer frames are the updater's (firmware-updater.ts), not device state; one from a
    // node not announced yet still asks it to announce itself.
    if (message.type === 'transfer') {
      if (message.direction !== 'toNode' && !this.deps.registry.canNode(message.node)) this.askToAnnounce(message.node);
      return;
    }
    const device = this.deps.registry.canNode(message.node);
    if (!device) return this.askToAnnounce(message.node);
    const t = this.track(device);
    if (t.identity.conflict !== undefined) return this.quarantine(device, message, now);
    const { registry } = this.deps;
    switch (message.type) {
      case 'power': {
        const framesLost = this.countLoss(device, t, 'power', message.seq);
        const { voltage, current, power } = message;
        const state = { ...this.status(device, t, message.status), voltage, current, power };
        registry.reading({ device, ts: now, voltage, current, power, relay: message.status.relay }, { lastSeen: now, framesLost, state });
        return;
      }
      case 'environment': {
        const framesLost = this.countLoss(device, t, 'environment', message.seq);
        const { humidity, temperature } = message;
        const state = {
          ...this.status(device, t, message.status),
          humidity,
          temperature,
          nodeHumidityLimit: message.humidityLimit,
          nodeHysteresis: message.hysteresis,
        };
        registry.reading({ device, ts: now, humidity, temperature }, { lastSeen: now, framesLost, state });
        return;
      }
      case 'energy': {
        const energy = registry.energyTotal(device, message.energyWh);
        registry.reading({ device, ts: now, energy }, { lastSeen: now, state: { energy }, info: { uptime: message.uptime } });
        return;
      }
      case 'reply':
        registry.update(device, { lastSeen: now, state: this.status(device, t, message.status) });
        return;
      case 'event':
        this.nodeEvent(device, message, now);
        return;
    }
  }

  /** Legacy profile: one socket, no heartbeat; it is alive while its readings arrive. */
  handleSeed(reading: SeedReading, now = Date.now()): void {
    const { registry } = this.deps;
    const device = registry.ensure('seed', 'seed', 'seed-socket', 1);
    registry.markSeen(device, now);
    const { quantity, value } = reading;
    // The seed socket reports no relay state: power flowing means it is on.
    const state = quantity === 'power' && value > 0 ? { power: value, relay: true } : { [quantity]: value };
    registry.reading({ device, ts: now, [quantity]: value }, { state });
  }

  private track(device: Device): NodeTracking {
    let t = this.nodes.get(device.key);
    if (!t) {
      t = { seq: {}, statusFault: false, identity: new IdentityCheck() };
      this.nodes.set(device.key, t);
    }
    return t;
  }

  private askToAnnounce(node: number): void {
    const now = monotonicMs();
    if (now - (this.lastAsked.get(node) ?? -Infinity) <= ASK_EVERY_MS) return;
    this.lastAsked.set(node, now);
    this.deps.bus.discover(node);
  }

  private heartbeat(message: Extract<Message, { type: 'heartbeat' }>, now: number): void {
    const { registry } = this.deps;
    const device = registry.ensure(`can:${message.node}`, 'can', `socket-${message.node}`, message.node);
    const t = this.track(device);
    const verdict = t.identity.heartbeat(message.state, message.uptime, monotonicMs());
    if (verdict === 'started') this.conflictStarted(device, t);
    if (verdict === 'cleared') this.conflictCleared(device);
    if (t.identity.conflict !== undefined) return;
    // A reboot (announced, or seen as the uptime going back) restarts the seq counters.
    if (message.state === 'boot' || message.uptime < (device.info.uptime ?? 0)) t.seq = {};
    registry.markSeen(device, now);
    registry.update(device, {
      info: { firmware: message.firmware, protocol: message.protocol, nodeState: message.state, uptime: message.uptime },
      state: { fault: t.statusFault || message.state === 'fault' },
    });
  }

  /** The device's frames lost after this seq (its total, for the change). */
  private countLoss(device: Device, t: NodeTracking, kind: 'power' | 'environment', seq: number): number {
    const last = t.seq[kind];
    t.seq[kind] = seq;
    if (last === undefined) return device.framesLost;
    const gap = (seq - last - 1) & 0xff;
    if (gap >= 128 && t.identity.seqWentBack(kind, last, seq, monotonicMs()) === 'started') this.conflictStarted(device, t);
    // A gap over half the range is a node restart or a duplicate, not loss.
    if (gap === 0 || gap >= 128) return device.framesLost;
    this.framesLost += gap;
    return device.framesLost + gap;
  }

  private status(device: Device, t: NodeTracking, status: Status): Partial<DeviceState> {
    t.statusFault = status.sensorFault;
    return {
      relay: status.relay,
      nodeHumidityLatched: status.humidityLatched,
      nodePowerLatched: status.powerLatched,
      fault: status.sensorFault || device.info.nodeState === 'fault',
    };
  }

  /**
   * Two nodes answer to one id: their frames cannot be told apart, so none is applied to the device
   * or stored; the safety rule still sees the measurements (a trip opens both), and node events are
   * still logged. The device is shown offline with the reason; closes are refused (controller guard).
   */
  private quarantine(device: Device, message: NodeMessage, now: number): void {
    this.framesQuarantined++;
    const { registry } = this.deps;
    registry.update(device, { lastSeen: now });
    if (message.type === 'event') return this.nodeEvent(device, message, now);
    if (message.type === 'power')
      registry.checkOnly({ device, ts: now, voltage: message.voltage, current: message.current, power: message.power });
    if (message.type === 'environment') registry.checkOnly({ device, ts: now, humidity: message.humidity });
  }

  private conflictStarted(device: Device, t: NodeTracking): void {
    const conflict = `two nodes answer to node id ${device.node} (${t.identity.conflict})`;
    // A counter reset seen just before was the other node's counter: undo it, the total must not jump.
    const energy = this.deps.registry.undoEnergyReset(device, IDENTITY_WINDOW_MS);
    this.deps.log.warn({ device: device.name, node: device.node, conflict }, 'node id conflict: frames of this id are no longer applied');
    this.deps.events.emit('log', { ts: Date.now(), device, type: 'alarm', cause: conflict, origin: 'gateway' });
    this.deps.registry.update(device, { state: { conflict, ...(energy !== undefined ? { energy } : {}) } });
    this.deps.registry.markOffline(device, 'two nodes share the node id');
  }

  private conflictCleared(device: Device): void {
    const was = device.state.conflict;
    this.deps.log.info({ device: device.name }, 'node id conflict over: one node again');
    this.deps.events.emit('log', { ts: Date.now(), device, type: 'alarm-cleared', cause: was, origin: 'gateway' });
    this.deps.registry.update(device, { state: { conflict: undefined } });
  }

  private nodeEvent(device: Device, message: Extract<Message, { type: 'event' }>, now: number): void {
    const described = describeNodeEvent(message);
    if (described.type === 'trip') this.nodeTrips++;
    this.deps.events.emit('log', {
      ts: now,
      device,
      type: described.type,
      cause: described.cause,
      origin: 'node',
      detail: described.detail,
    });
    this.deps.registry.update(device, { lastSeen: now, ...(described.fault ? { state: { fault: true } } : {}) });
  }
}
