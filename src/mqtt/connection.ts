/**
 * The gateway's MQTT connection: bridge state as the last will, credentials and TLS, reconnect with
 * back-off, and topic handlers that survive reconnects. Features publish through it; on every
 * (re)connect they are asked to republish what they own, so retained topics come back after a
 * broker restart.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../log.js';
import { LogLimiter } from '../log-limiter.js';
import { findLiveGateway } from './live-gateway.js';

export interface ConnectionOptions {
  url: string;
  baseTopic: string;
  username?: string;
  password?: string;
  clientId?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** This process's random id (in bridge/info): tells its own retained topics from another gateway's. */
  instance: string;
  /** Ask whether another gateway is online on the base topic before going online (a shared broker). */
  guard: boolean;
  log: Logger;
}

/** `retained`: the broker delivered a stored message (at subscribe time), not a fresh publish. */
export type MessageHandler = (topic: string, payload: Buffer, retained: boolean) => void;

/** Largest payload a handler is given; bigger ones are refused before parsing. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

const BACKOFF_START_MS = 250;
const BACKOFF_MAX_MS = 2000;

/**
 * A client id nobody can guess (64 random bits): on a broker that lets a newcomer with the same id
 * kick the connected client off (MQTT's rule), a guessable id is a way to silence the gateway.
 */
export function randomClientId(): string {
  return `canplug-${randomBytes(8).toString('hex')}`;
}

/** MQTT topic filter matching (+ one level, # the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Bytes the broker may leave unread in our socket before QoS 0 publishes are dropped: a stalled
 * broker must not grow the gateway's memory without bound. State is a snapshot, so the dropped ones
 * are made good by republishing every state once the socket drains (the `resync` event).
 */
export const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

export class MqttConnection extends EventEmitter<{ connect: []; close: []; resync: [] }> {
  private client: MqttClient | undefined;
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  private backoff = BACKOFF_START_MS;
  /** Messages published, all topics (metric). */
  published = 0;
  /** Called with the round-trip time (ms) of each acknowledged QoS 1 publish. */
  onAcknowledged: (ms: number) => void = () => {};
  /** Messages refused before reaching a handler (too big) or whose handler threw. */
  rejected = 0;
  private lastError: string | undefined;
  private readonly logLimiter = new LogLimiter();
  /** QoS 0 publishes dropped because the broker was not reading (metric). */
  dropped = 0;
  private resyncPending = false;
  /** Set once the base topic was found free (the first connect) and the gateway went online. */
  private claimed = false;
  private claiming = false;
  /** Another gateway owns the base topic: this one stays off the broker. */
  private refusal: string | undefined;
  /** Another gateway publishes on the base topic while this one is online (both started at once). */
  conflict: string | undefined;
  private stopping = false;

  /** The id the gateway connects with: the configured one, else random (never guessable). */
  readonly clientId: string;

  constructor(private readonly options: ConnectionOptions) {
    super();
    this.clientId = options.clientId || randomClientId();
  }

  get bridgeStateTopic(): string {
    return `${this.options.baseTopic}/bridge/state`;
  }

  /** Bytes written to the broker's socket that it has not taken yet. */
  get unsentBytes(): number {
    return this.client?.stream?.writableLength ?? 0;
  }

  /** Connected and online: the base topic was claimed (nothing is published before). */
  get connected(): boolean {
    return this.claimed && (this.client?.connected ?? false);
  }

  get error(): string | undefined {
    return this.refusal ?? this.conflict ?? (this.connected ? undefined : this.lastError);
  }

  /** True once another gateway was found on the base topic: this one stays off the broker. */
  get refused(): boolean {
    return this.refusal !== undefined;
  }

  get instance(): string {
    return this.options.instance;
  }

  /** Connects; resolves on the first connection, or after `waitMs` while reconnecting goes on. */
  async start(waitMs = 5000): Promise<void> {
    const o = this.options;
    const clientOptions: IClientOptions = {
      clientId: this.clientId,
      username: o.username || undefined,
      password: o.password || undefined,
      ca: o.caFile ? readFileSync(o.caFile) : undefined,
      cert: o.certFile ? readFileSync(o.certFile) : undefined,
      key: o.keyFile ? readFileSync(o.keyFile) : undefined,
      will: { topic: this.bridgeStateTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
      reconnectPeriod: BACKOFF_START_MS,
      connectTimeout: 5000,
      // While the broker is away QoS 0 messages are dropped, not queued without bound:
      // everything retained is republished on reconnect.
      queueQoSZero: false,
      resubscribe: true,
      // mqtt-packet's cache of every 16-bit number as a ready Buffer is 65,536 objects, about 6.5 MB of
      // heap for the life of the process; without it a topic length costs one 2-byte Buffer per publish.
      writeCache: false,
      // mqtt.js's debug logging costs a few percent per publish even when off; keep it only when asked for (DEBUG=mqttjs*).
      ...(process.env.DEBUG ? {} : { log: () => {} }),
    };
    const client = mqtt.connect(o.url, clientOptions);
    this.client = client;
    client.on('connect', () => {
      // Small packets go out at once (no Nagle delay behind an unacknowledged one): state and replies are latency-bound.
      (client.stream as Partial<Socket>).setNoDelay?.(true);
      client.stream.on('drain', () => {
        if (!this.resyncPending) return;
        this.resyncPending = false;
        this.emit('resync');
      });
      this.backoff = BACKOFF_START_MS;
      client.options.reconnectPeriod = BACKOFF_START_MS;
      this.lastError = undefined;
      o.log.info({ url: redactUrl(o.url) }, 'MQTT connected');
      if (this.claimed) this.goOnline(client);
      else if (!this.claiming) void this.claim(client);
    });
    client.on('close', () => {
      if (this.lastError === undefined) this.lastError = 'connection closed';
      this.emit('close');
    });
    client.on('reconnect', () => {
      this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
      client.options.reconnectPeriod = this.backoff;
    });
    client.on('error', (error) => {
      if (this.lastError !== error.message) o.log.warn({ err: error.message }, 'MQTT error');
      this.lastError = error.message;
    });
    client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet.retain));

    this.subscribe(this.bridgeStateTopic, (_topic, payload, retained) => this.onBridgeState(payload, retained));
    this.subscribe(`${o.baseTopic}/bridge/info`, (_topic, payload, retained) => this.onBridgeInfo(payload, retained));
    if (waitMs <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (!this.refusal)
          o.log.warn({ url: redactUrl(o.url), error: this.lastError }, 'MQTT broker not reachable yet; retrying in the background');
        resolve();
      }, waitMs);
      const refused = () => this.refusal !== undefined && settled();
      const settled = () => {
        clearTimeout(timer);
        this.off('connect', settled);
        this.off('close', refused);
        resolve();
      };
      this.on('connect', settled);
      this.on('close', refused);
    });
  }

  /** The first connect: online only when no other gateway answers on the base topic. */
  private async claim(client: MqttClient): Promise<void> {
    this.claiming = true;
    const other = this.options.guard
      ? await findLiveGateway(client, this.options.baseTopic, this.instance).catch(() => undefined)
      : undefined;
    this.claiming = false;
    if (client !== this.client || !client.connected) return; // stopped, or the connection dropped meanwhile: the next connect claims
    if (other) return this.refuse(client, other);
    this.claimed = true;
    this.goOnline(client);
  }

  private goOnline(client: MqttClient): void {
    this.publish(this.bridgeStateTopic, 'online', { retain: true, qos: 1 });
    const filters = [...this.handlers.keys()];
    if (filters.length > 0) client.subscribe(filters, { qos: 1 });
    this.emit('connect');
  }

  /** Off the broker for good (a clean disconnect: the last will is not sent), with the reason in health. */
  private refuse(client: MqttClient, other: string): void {
    const base = this.options.baseTopic;
    this.refusal = `another canplug gateway is online on base topic "${base}" (${other}); this one stays off MQTT: give each gateway its own mqtt.base_topic`;
    this.options.log.error({ base_topic: base }, this.refusal);
    client.end(false);
  }

  /** Our bridge state went offline while we are online: a dead session's last will (ours after a power cut). Say online again. */
  private onBridgeState(payload: Buffer, retained: boolean): void {
    if (retained || this.stopping || !this.claimed || payload.toString() !== 'offline') return;
    // Anyone who may publish can send this at any rate: the log is limited, the answer is one message.
    const suppressed = this.logLimiter.take('bridge state offline');
    if (suppressed !== undefined) {
      this.options.log.info(
        { ...(suppressed ? { suppressed } : {}) },
        "the bridge state was set offline while this gateway is online (an old session's last will); publishing online again",
      );
    }
    this.publish(this.bridgeStateTopic, 'online', { retain: true, qos: 1 });
  }

  /** Another gateway's bridge info on our base topic, published live: both started at once and passed the claim. */
  private onBridgeInfo(payload: Buffer, retained: boolean): void {
    if (retained) return;
    let info: unknown;
    try {
      info = JSON.parse(payload.toString());
    } catch {
      return;
    }
    if (
      typeof info !== 'object' ||
      info === null ||
      !('instance' in info) ||
      typeof info.instance !== 'string' ||
      info.instance === this.instance
    )
      return;
    // The host is the other side's word: clipped, and the log limited, whatever it sends.
    const host =
      'host' in info && typeof info.host === 'string' ? ` on host ${clipTopic(info.host.replace(/[^\x20-\x7e]/g, '?')).slice(0, 64)}` : '';
    const conflict = `another canplug gateway${host} publishes on base topic "${this.options.baseTopic}" too: their topics overwrite each other; give each gateway its own mqtt.base_topic`;
    if (this.conflict !== conflict && this.logLimiter.take('conflict') !== undefined) this.options.log.error(conflict);
    this.conflict = conflict;
  }

  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.stopping = true;
    if (this.connected) {
      await new Promise<void>((resolve) => {
        client.publish(this.bridgeStateTopic, 'offline', { qos: 1, retain: true }, () => resolve());
        setTimeout(resolve, 1000).unref();
      });
    }
    // Forced: a broker that stopped answering must not hold the shutdown (the offline state was sent above).
    await client.endAsync(true);
    this.client = undefined;
  }

  /** The topic filters the gateway subscribes to (the fuzz suite publishes on every one). */
  filters(): string[] {
    return [...this.handlers.keys()];
  }

  /** Registers a handler for a topic filter; subscribed now and after every reconnect. */
  subscribe(filter: string, handler: MessageHandler): () => void {
    let set = this.handlers.get(filter);
    if (!set) {
      set = new Set();
      this.handlers.set(filter, set);
      if (this.client?.connected) this.client.subscribe(filter, { qos: 1 });
    }
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size > 0) return;
      this.handlers.delete(filter);
      if (this.client?.connected) this.client.unsubscribe(filter);
    };
  }

  publish(topic: string, payload: string | Buffer, options: { retain?: boolean; qos?: 0 | 1 } = {}): void {
    const client = this.client;
    if (!client || !this.connected) return; // republished on reconnect
    const qos = options.qos ?? 0;
    if (qos === 0 && this.unsentBytes > MAX_UNSENT_BYTES) {
      this.dropped++;
      this.resyncPending = true;
      return;
    }
    // A QoS 1 publish is acknowledged by the broker: its round trip is the MQTT latency metric.
    let acknowledged: ((error?: Error) => void) | undefined;
    if (qos === 1) {
      const sent = performance.now();
      acknowledged = (error) => !error && this.onAcknowledged(performance.now() - sent);
    }
    client.publish(topic, payload, { qos, retain: options.retain ?? false }, acknowledged);
    this.published++;
  }

  private dispatch(topic: string, payload: Buffer, retained: boolean): void {
    if (payload.length > MAX_PAYLOAD_BYTES) {
      this.rejected++;
      // A client flooding big payloads must not flood the log too.
      const suppressed = this.logLimiter.take('oversized');
      if (suppressed !== undefined)
        this.options.log.warn(
          { topic: clipTopic(topic), bytes: payload.length, ...(suppressed ? { suppressed } : {}) },
          `MQTT payload over ${MAX_PAYLOAD_BYTES} bytes refused`,
        );
      return;
    }
    for (const [filter, handlers] of this.handlers) {
      if (!topicMatches(filter, topic)) continue;
      for (const handler of handlers) {
        try {
          handler(topic, payload, retained);
        } catch (error) {
          this.rejected++;
          const suppressed = this.logLimiter.take(`failed ${filter}`);
          if (suppressed !== undefined)
            this.options.log.error(
              { topic: clipTopic(topic), err: (error as Error).message, ...(suppressed ? { suppressed } : {}) },
              'MQTT handler failed',
            );
        }
      }
    }
  }
}

/** A topic as a log field: topics can be 64 KiB of anything. */
function clipTopic(topic: string): string {
  return topic.length > 200 ? `${topic.slice(0, 200)}...` : topic;
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
