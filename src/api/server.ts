/**
 * The REST API's process side: builds the app and listens, retrying with back-off when the port is
 * taken or the address not there yet (at boot). The rest of the daemon (bus, safety, storage, MQTT)
 * does not wait for it, and health says what is missing.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log.js';
import { Retry, type RetryState } from '../retry.js';
import { buildApp } from './app.js';
import { AuthFailures } from './auth.js';
import type { ApiContext } from './context.js';
import { LiveStream } from './live.js';

export interface HttpServerOptions {
  ctx: Omit<ApiContext, 'authFailures' | 'live'>;
  log: Logger;
}

/**
 * Open connections at once, WebSockets included; more are closed at once and counted (Node's
 * default is no limit: each idle connection holds memory and a file descriptor until it times out).
 */
export const MAX_HTTP_CONNECTIONS = 256;

export class HttpServer {
  app!: FastifyInstance;
  readonly authFailures: AuthFailures;
  readonly live: LiveStream;
  /** Connections closed because MAX_HTTP_CONNECTIONS were open (health, metrics). */
  connectionsDropped = 0;
  private binding: Retry | undefined;

  constructor(private readonly options: HttpServerOptions) {
    this.authFailures = new AuthFailures(options.log);
    this.live = new LiveStream({ events: options.ctx.events, registry: options.ctx.registry, log: options.log });
  }

  /** Builds the app and tries to listen once; on failure it keeps trying in the background. */
  async start(): Promise<void> {
    const { ctx, log } = this.options;
    const { host, port } = ctx.http;
    this.app = await buildApp({ log, ctx: { ...ctx, authFailures: this.authFailures, live: this.live } });
    this.app.server.maxConnections = MAX_HTTP_CONNECTIONS;
    this.app.server.on('drop', () => this.connectionsDropped++);
    this.binding = new Retry(
      `listen for HTTP on ${host}:${port}`,
      async () => {
        await this.app.listen({ host, port });
      },
      log,
    );
    await this.binding.start();
  }

  async stop(): Promise<void> {
    this.binding?.stop();
    await this.app?.close();
  }

  /** Whether it listens, and why not (health). */
  state(): RetryState {
    return this.binding?.state() ?? { ok: false, failures: 0 };
  }

  url(): string {
    const { host, port: configured } = this.options.ctx.http;
    const address = this.app?.server.listening ? this.app.server.address() : undefined;
    const port = typeof address === 'object' && address ? address.port : configured;
    const shown = host === '0.0.0.0' ? '127.0.0.1' : host;
    return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
  }
}
