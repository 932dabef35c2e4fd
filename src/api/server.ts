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

export interface HttpServerOptions {
  ctx: Omit<ApiContext, 'authFailures'>;
  log: Logger;
}

export class HttpServer {
  app!: FastifyInstance;
  readonly authFailures: AuthFailures;
  private binding: Retry | undefined;

  constructor(private readonly options: HttpServerOptions) {
    this.authFailures = new AuthFailures(options.log);
  }

  /** Builds the app and tries to listen once; on failure it keeps trying in the background. */
  async start(): Promise<void> {
    const { ctx, log } = this.options;
    const { host, port } = ctx.http;
    this.app = await buildApp({ log, ctx: { ...ctx, authFailures: this.authFailures } });
    this.binding = new Retry(`listen for HTTP on ${host}:${port}`, async () => {
      await this.app.listen({ host, port });
    }, log);
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
