/** The REST API as a Fastify app; server.ts listens (retrying a taken port), tests use inject(). */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from '../log.js';
import type { ApiContext } from './context.js';
import { ErrorResponse } from './schemas.js';
import { HttpError, registerErrorHandler } from './errors.js';
import { failsAuthentication, registerAuth, selectProtocol } from './auth.js';
import { LogLimiter } from '../log-limiter.js';
import { MAX_BODY_DEPTH, nestedDeeperThan, validatorCompiler } from './validation.js';
import { configRoutes } from './routes/config.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { deviceRoutes } from './routes/devices.js';
import { energyRoutes } from './routes/energy.js';
import { healthRoutes } from './routes/health.js';
import { liveRoutes } from './routes/live.js';
import { metricsRoutes } from './routes/metrics.js';
import { readingRoutes } from './routes/readings.js';
import { eventRoutes } from './routes/events.js';
import { firmwareRoutes } from './routes/firmware.js';
import { safetyRoutes } from './routes/safety.js';
import { ruleRoutes } from './routes/rules.js';

export interface AppOptions {
  ctx: ApiContext;
  log: Logger;
}

export const BODY_LIMIT = 64 * 1024;
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

declare module 'fastify' {
  interface FastifyInstance {
    /** Requests refused by the rate limit so far (health, metrics). */
    rateLimited(): number;
  }
}

export async function buildApp({ ctx, log }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    disableRequestLogging: true,
    bodyLimit: BODY_LIMIT,
    // Node's default request timeout would hold a slot for minutes on a stalled client.
    requestTimeout: 30_000,
  }).withTypeProvider<TypeBoxTypeProvider>();
  const rateLimited = { count: 0, log: new LogLimiter(60_000, 1000) };
  app.setValidatorCompiler(validatorCompiler);
  registerErrorHandler(app);
  app.addHook('preValidation', async (request) => {
    if (nestedDeeperThan(request.body, MAX_BODY_DEPTH)) throw new HttpError(400, `the body is nested deeper than ${MAX_BODY_DEPTH} levels`);
  });
  app.addSchema(ErrorResponse);

  await app.register(helmet, {
    // The gateway is usually reached over plain HTTP on the LAN: no HSTS, no upgrade to https.
    hsts: false,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        // uPlot and Swagger UI set style attributes.
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'self'"],
      },
    },
  });
  if (ctx.http.cors_origins.length > 0) {
    await app.register(cors, { origin: ctx.http.cors_origins, methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] });
  }
  const perMinute = ctx.http.rate_limit;
  await app.register(rateLimit, {
    global: perMinute > 0,
    max: perMinute,
    timeWindow: 60_000,
    // Changes and failed logins are limited: the dashboard and scrapers read as often as they like,
    // but a wrong token on a read (or on the live stream) is a guess like any other.
    allowList: (request) => READS.has(request.method) && !failsAuthentication(ctx.tokens, request),
    onExceeded: (request) => {
      rateLimited.count++;
      const suppressed = rateLimited.log.take(request.ip);
      if (suppressed !== undefined) log.warn({ remote: request.ip, limit: perMinute }, `rate limit reached by ${request.ip}`);
    },
    errorResponseBuilder: (_request, context) =>
      new HttpError(
        429,
        `too many changes or failed logins from this address: at most ${context.max} per minute; try again in ${context.after}`,
      ),
  });
  app.decorate('rateLimited', () => rateLimited.count);
  registerAuth(app, { tokens: ctx.tokens, readProtection: ctx.http.read_protection, failures: ctx.authFailures });
  await app.register(websocket, {
    options: { maxPayload: 4096, handleProtocols: (offered) => selectProtocol(offered) },
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'canplug', description: 'CAN smart-socket gateway REST API', version: ctx.version },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      tags: [
        { name: 'devices', description: 'devices and their relays' },
        { name: 'history', description: 'stored readings and energy' },
        { name: 'events', description: 'the event log' },
        { name: 'safety', description: 'limits and interlock resets' },
        { name: 'rules', description: 'if-this-then-that rules and schedules' },
        { name: 'live', description: 'live stream of device state and events' },
        { name: 'gateway', description: 'health, configuration and metrics' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes, { ctx });
  await app.register(deviceRoutes, { ctx });
  await app.register(firmwareRoutes, { ctx });
  await app.register(readingRoutes, { ctx });
  await app.register(eventRoutes, { ctx });
  await app.register(safetyRoutes, { ctx });
  await app.register(ruleRoutes, { ctx });
  await app.register(energyRoutes, { ctx });
  await app.register(configRoutes, { ctx });
  await app.register(metricsRoutes, { ctx });
  await app.register(liveRoutes, { ctx });
  await app.register(dashboardRoutes, { ctx });
  return app;
}
