/**
 * The embedded MQTT broker (aedes) used when no broker URL is configured: the demo needs nothing
 * installed. It runs inside the daemon, so what a client sends costs the daemon's memory and event
 * loop: packets, clients, subscriptions and retained messages are bounded (docs/security.md), and
 * what is refused is counted. The gateway's own client id is secret (random) and cannot be taken
 * over: a second client with it is refused, and $SYS never shows it. With credentials
 * (mqtt.username / mqtt.password) every client must log in with them; without, it takes anyone,
 * which is why it listens on 127.0.0.1 by default.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Duplex, pipeline } from 'node:stream';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { tokensEqual } from '../tokens-equal.js';
import { PacketSizeGuard, PacketTooLargeError } from './packet-guard.js';

/** The gateway takes at most 64 KiB per message; bridge requests and set commands are far smaller. */
export const MAX_PACKET_BYTES = 256 * 1024;
/** Clients besides the gateway itself. */
export const MAX_CLIENTS = 100;
/** Open TCP connections, logged in or not (a connection that never logs in is closed after CONNECT_TIMEOUT_MS). */
export const MAX_CONNECTIONS = 2 * MAX_CLIENTS;
const CONNECT_TIMEOUT_MS = 10_000;
export const MAX_SUBSCRIPTIONS_PER_CLIENT = 1000;
/** Retained messages from other clients are refused past these (the gateway's own always pass). */
export const MAX_RETAINED_BYTES = 16 * 1024 * 1024;
export const MAX_RETAINED_TOPICS = 20_000;

export interface BrokerCredentials {
  username: string;
  password: string;
}

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  credentials?: BrokerCredentials;
  /** The gateway's own client id: refused to anyone else while the gateway is connected, and never shown on $SYS. */
  gatewayClientId?: string;
}

/** What the broker refused, by kind (health, metrics). */
export interface BrokerRefusals {
  packets_too_large: number;
  clients_over_limit: number;
  connections_over_limit: number;
  gateway_id_taken: number;
  retained_over_limit: number;
  subscriptions_over_limit: number;
}

/** The payload as aedes holds it (a Buffer already, but typed Buffer | string): never copied. */
const asBuffer = (payload: Buffer | string) => (typeof payload === 'string' ? Buffer.from(payload) : payload);
const retainedBytes = (topic: string, payload: Buffer | string) => (payload.length === 0 ? 0 : payload.length + topic.length);

const refuse = (message: string, returnCode: number) => Object.assign(new Error(message), { returnCode }) as AuthenticateError;

export class EmbeddedBroker {
  readonly refused: BrokerRefusals = {
    packets_too_large: 0,
    clients_over_limit: 0,
    connections_over_limit: 0,
    gateway_id_taken: 0,
    retained_over_limit: 0,
    subscriptions_over_limit: 0,
  };
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  /** Per topic, the retained payload as last published (the same Buffer aedes stores). */
  private readonly retained = new Map<string, Buffer>();
  private retainedBytes = 0;
  /** The gateway's own connection while it is logged in. */
  private gatewayClient: Client | undefined;
  private readonly subscriptions = new WeakMap<Client, Set<string>>();

  constructor(private readonly options: EmbeddedBrokerOptions) {}

  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  /** The port it listens on (the configured one until then). */
  get port(): number {
    const address = this.server?.listening ? this.server.address() : undefined;
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  get url(): string {
    const { host } = this.options;
    const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    return `mqtt://${urlHost}:${this.port}`;
  }

  /** Clients logged in now, the gateway included. */
  get clients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  /** Listens; rejects (for a retry) when the port cannot be had. */
  async listen(): Promise<void> {
    this.aedes ??= await this.createAedes();
    const aedes = this.aedes;
    const server = createServer((socket) => this.accept(aedes, socket));
    server.maxConnections = MAX_CONNECTIONS;
    server.on('drop', () => this.refused.connections_over_limit++);
    const { host, port } = this.options;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        server.close();
        reject(
          error.code === 'EADDRINUSE'
            ? new Error(
                `the embedded MQTT broker cannot listen on ${host}:${port}: the port is in use (is another broker running? set mqtt.url to use it)`,
              )
            : new Error(`the embedded MQTT broker cannot listen on ${host}:${port}: ${error.message}`),
        );
      });
      server.listen(port, host, () => resolve());
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const aedes = this.aedes;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Every byte a client sends passes the packet-size guard before aedes buffers it. */
  private accept(aedes: Aedes, socket: Socket): void {
    // No Nagle delay: a relay command is one small packet and must not wait for the previous one's ACK.
    socket.setNoDelay(true);
    const guard = new PacketSizeGuard(MAX_PACKET_BYTES);
    pipeline(socket, guard, (error) => {
      if (error instanceof PacketTooLargeError) this.refused.packets_too_large++;
    });
    aedes.handle(Duplex.from({ readable: guard, writable: socket }));
  }

  private isGateway(client: Client | null): boolean {
    return client !== null && this.options.gatewayClientId !== undefined && client.id === this.options.gatewayClientId;
  }

  /**
   * aedes reads a new subscription's retained messages while live ones already flow to it, so a
   * retained copy read just before a newer publish can reach the client after that publish, and the
   * client would keep the older state (a socket's relay missing until its next change). A retained
   * copy (aedes gives those no broker id) that no longer matches the topic's retained payload is
   * such a copy: the newer one was stored after the subscription began, so it went out live. Mosquitto
   * sends retained messages inside the subscribe and needs none of this.
   */
  private isStaleRetained(packet: { brokerId?: string | null; retain?: boolean; topic: string; payload: Buffer | string }): boolean {
    if (packet.brokerId || !packet.retain) return false;
    const current = this.retained.get(packet.topic);
    return current === undefined || !current.equals(asBuffer(packet.payload));
  }

  private async createAedes(): Promise<Aedes> {
    const { credentials, gatewayClientId } = this.options;
    const aedes = await Aedes.createBroker({
      connectTimeout: CONNECT_TIMEOUT_MS,
      authenticate: (client, username, password, done) => {
        const others = aedes.connectedClients - (this.gatewayClient ? 1 : 0);
        if (!this.isGateway(client) && others >= MAX_CLIENTS) {
          this.refused.clients_over_limit++;
          return done(refuse(`the embedded broker takes at most ${MAX_CLIENTS} clients`, 3), false);
        }
        // MQTT would let the newcomer kick the connected client off: not with the gateway's id.
        if (this.isGateway(client) && this.gatewayClient && !this.gatewayClient.closed) {
          this.refused.gateway_id_taken++;
          return done(refuse('this client id is in use', 2), false);
        }
        if (!credentials) return done(null, true);
        // Constant-time, like the API token: a wrong guess must not tell how close it was.
        const ok = tokensEqual(username ?? '', credentials.username) && tokensEqual(password?.toString('utf8') ?? '', credentials.password);
        if (ok) return done(null, true);
        done(refuse('bad username or password', 4), false);
      },
      authorizePublish: (client, packet, done) => {
        if (packet.topic.startsWith('$SYS/')) return done(new Error('$SYS topics are reserved'));
        if (!packet.retain) return done(null);
        const bytes = retainedBytes(packet.topic, packet.payload);
        const held = this.retained.get(packet.topic);
        const before = held ? retainedBytes(packet.topic, held) : 0;
        const topics = this.retained.size + (before === 0 && bytes > 0 ? 1 : 0);
        if (
          !this.isGateway(client) &&
          bytes > before &&
          (this.retainedBytes - before + bytes > MAX_RETAINED_BYTES || topics > MAX_RETAINED_TOPICS)
        ) {
          this.refused.retained_over_limit++;
          return done(new Error('the embedded broker holds no more retained messages'));
        }
        this.retainedBytes += bytes - before;
        if (bytes === 0) this.retained.delete(packet.topic);
        else this.retained.set(packet.topic, asBuffer(packet.payload));
        done(null);
      },
      authorizeSubscribe: (client, subscription, done) => {
        const held = client ? (this.subscriptions.get(client) ?? new Set<string>()) : undefined;
        if (client && held) {
          if (!this.isGateway(client) && !held.has(subscription.topic) && held.size >= MAX_SUBSCRIPTIONS_PER_CLIENT) {
            this.refused.subscriptions_over_limit++;
            return done(null, null);
          }
          held.add(subscription.topic);
          this.subscriptions.set(client, held);
        }
        done(null, subscription);
      },
      authorizeForward: (client, packet) => {
        // The gateway's client id is what a take-over needs: never forward it on $SYS (new and gone
        // clients, their subscriptions).
        if (
          gatewayClientId &&
          !this.isGateway(client) &&
          packet.topic.startsWith('$SYS/') &&
          Buffer.from(packet.payload).includes(gatewayClientId)
        )
          return null;
        return this.isStaleRetained(packet) ? null : packet;
      },
    });
    aedes.on('client', (client) => {
      if (this.isGateway(client)) this.gatewayClient = client;
    });
    aedes.on('clientDisconnect', (client) => {
      if (client === this.gatewayClient) this.gatewayClient = undefined;
    });
    aedes.on('unsubscribe', (topics, client) => {
      const held = this.subscriptions.get(client);
      for (const topic of topics) held?.delete(topic);
    });
    return aedes;
  }
}

/** Starts a broker and listens at once (tests and tools; the gateway retries through EmbeddedBroker.listen). */
export async function startEmbeddedBroker(host: string, port: number, credentials?: BrokerCredentials): Promise<EmbeddedBroker> {
  const broker = new EmbeddedBroker({ host, port, credentials });
  await broker.listen();
  return broker;
}
