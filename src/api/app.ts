/** The REST API as a Fastify app (no listening here: server.ts does that, tests use inject()). */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from '../log.js';
import type { ApiContext } from './context.js';
import { ErrorResponse } from './schemas.js';
import { registerErrorHandler } from './errors.js';
import { deviceRoutes } from './routes/devices.js';
import { healthRoutes } from './routes/health.js';
import { readingRoutes } from './routes/readings.js';
import { eventRoutes } from './routes/events.js';
import { safetyRoutes } from './routes/safety.js';
import { ruleRoutes } from './routes/rules.js';

export interface AppOptions {
  ctx: ApiContext;
  log: Logger;
}

export async function buildApp({ ctx, log }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    disableRequestLogging: true,
    bodyLimit: 64 * 1024,
    // Node's default request timeout would hold a slot for minutes on a stalled client.
    requestTimeout: 30_000,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  registerErrorHandler(app);
  app.addSchema(ErrorResponse);

  await app.register(swagger, {
    openapi: {
      info: { title: 'canplug', description: 'CAN smart-socket gateway REST API', version: ctx.version },
      tags: [
        { name: 'devices', description: 'devices and their relays' },
        { name: 'history', description: 'stored readings' },
        { name: 'events', description: 'the event log' },
        { name: 'safety', description: 'limits and interlock resets' },
        { name: 'gateway', description: 'health and metrics' },
        { name: 'rules', description: 'if-this-then-that rules and schedules' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes, { ctx });
  await app.register(deviceRoutes, { ctx });
  await app.register(readingRoutes, { ctx });
  await app.register(eventRoutes, { ctx });
  await app.register(safetyRoutes, { ctx });
  await app.register(ruleRoutes, { ctx });
  return app;
}
