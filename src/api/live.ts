/**
 * The live stream: device state and event-log entries pushed to WebSocket clients as JSON.
 * A client gets a snapshot on connect, then at most one update per device every `minIntervalMs`
 * (the latest state wins), so a flooded bus cannot flood a phone. A client that stops reading is
 * disconnected once its send buffer passes `maxBufferedBytes`, instead of growing without bound.
 */
import type { WebSocket } from 'ws';
import type { Device } from '../gateway/device.js';
import type { EventBus, LogEvent } from '../gateway/events.js';
import type { Registry } from '../gateway/registry.js';
import type { FastifyBaseLogger } from 'fastify';
import { monotonicMs } from '../gateway/clock.js';
import { deviceView } from './schemas.js';
import type { EventEntry } from '../contracts/event-entry.js';
import { CLOSE, type LiveAccess, type LiveMessage } from '../contracts/live.js';

/** A bus event as the event log shows it; `id` is null: it is not stored yet. */
export function eventView(e: LogEvent): EventEntry {
  return {
    id: null,
    ts: new Date(e.ts).toISOString(),
    device: e.device?.name ?? null,
    type: e.type,
    cause: e.cause ?? null,
    origin: e.origin ?? null,
    detail: e.detail ?? null,
  };
}

export interface LiveOptions {
  events: EventBus;
  registry: Registry;
  log: FastifyBaseLogger;
  /** Least time between two updates of one device to one client. */
  minIntervalMs?: number;
  /** A client whose unsent data passes this is disconnected. */
  maxBufferedBytes?: number;
  /** Idle connections are pinged this often and dropped when the previous ping went unanswered. */
  pingIntervalMs?: number;
  /** Clients at once; more are refused (each costs a snapshot and a copy of every update). */
  maxClients?: number;
}

class Client {
  private readonly lastSent = new Map<Device, number>();
  private readonly pending = new Map<Device, NodeJS.Timeout>();
  alive = true;

  constructor(
    readonly socket: WebSocket,
    private readonly hub: LiveStream,
  ) {}

  /** `now` is monotonicMs(): a wall-clock jump back must not hold a device's updates for hours. */
  device(device: Device, now = monotonicMs()): void {
    if (this.pending.has(device)) return; // the scheduled send will carry the latest state
    const wait = (this.lastSent.get(device) ?? 0) + this.hub.minIntervalMs - now;
    if (wait <= 0) return this.sendDevice(device, now);
    const timer = setTimeout(() => {
      this.pending.delete(device);
      this.sendDevice(device, monotonicMs());
    }, wait);
    this.pending.set(device, timer);
  }

  forget(device: Device): void {
    clearTimeout(this.pending.get(device));
    this.pending.delete(device);
    this.lastSent.delete(device);
  }

  send(message: LiveMessage): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > this.hub.maxBufferedBytes) {
      this.hub.drop(this, 'too slow: the live stream was not read fast enough');
      return;
    }
    this.socket.send(JSON.stringify(message));
  }

  close(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }

  private sendDevice(device: Device, now: number): void {
    this.lastSent.set(device, now);
    this.send({ type: 'device', device: deviceView(device) });
  }
}

export class LiveStream {
  readonly minIntervalMs: number;
  readonly maxBufferedBytes: number;
  readonly maxClients: number;
  /** Connections refused because maxClients were connected (health, metrics). */
  refused = 0;
  private readonly clients = new Set<Client>();
  private unsubscribe: (() => void) | undefined;
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LiveOptions) {
    this.minIntervalMs = options.minIntervalMs ?? 200;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.maxClients = options.maxClients ?? 50;
  }

  get size(): number {
    return this.clients.size;
  }

  start(): void {
    const changed = (device: Device) => {
      for (const client of this.clients) client.device(device);
    };
    this.unsubscribe = this.options.events.subscribe('live-stream', {
      'device.added': changed,
      'device.changed': changed,
      'device.availability': changed,
      'device.renamed': changed,
      'device.removed': (device) => {
        for (const client of this.clients) {
          client.forget(device);
          client.send({ type: 'device.removed', key: device.key, name: device.name });
        }
      },
      log: (event) => {
        if (this.clients.size === 0) return;
        const message: LiveMessage = { type: 'event', event: eventView(event) };
        for (const client of this.clients) client.send(message);
      },
      'firmware.status': (status) => {
        for (const client of this.clients) client.send({ type: 'firmware', status });
      },
    });
    this.pingTimer = setInterval(() => this.ping(), this.options.pingIntervalMs ?? 30_000);
    this.pingTimer.unref();
  }

  stop(): void {
    this.unsubscribe?.();
    clearInterval(this.pingTimer);
    for (const client of [...this.clients]) this.drop(client, 'the gateway is stopping', CLOSE.goingAway);
  }

  /** Takes a connected socket whose credentials allow `access`: snapshot first, then updates. */
  add(socket: WebSocket, access: LiveAccess): void {
    if (this.clients.size >= this.maxClients) {
      this.refused++;
      socket.close(CLOSE.tryAgainLater, `at most ${this.maxClients} live stream clients at once; try again later`);
      return;
    }
    const client = new Client(socket, this);
    this.clients.add(client);
    socket.on('pong', () => (client.alive = true));
    socket.on('close', () => {
      client.close();
      this.clients.delete(client);
    });
    // The stream is one-way; anything a client sends is ignored (maxPayload bounds it).
    client.send({ type: 'snapshot', devices: this.options.registry.list().map(deviceView), access });
  }

  drop(client: Client, reason: string, code: number = CLOSE.tooSlow): void {
    client.close();
    this.clients.delete(client);
    if (code === CLOSE.goingAway) return client.socket.close(code, reason);
    this.options.log.warn({ reason }, 'live stream client disconnected');
    // Its buffer is full, so a close frame would wait behind it: cut the connection.
    client.socket.terminate();
  }

  private ping(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        this.drop(client, 'no answer to the last ping');
        continue;
      }
      client.alive = false;
      client.socket.ping();
    }
  }
}
