import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HealthReport } from '../../contracts/health.js';
import type { ApiContext } from '../context.js';

export const healthRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.get(
    '/api/health',
    {
      schema: {
        tags: ['gateway'],
        summary: 'ok once CAN, MQTT, the database and the safety worker are up and every feature started (503 otherwise)',
        response: { 200: HealthReport, 503: HealthReport },
      },
    },
    async (_request, reply) => {
      const report = ctx.health();
      return reply.status(report.status === 'ok' ? 200 : 503).send(report);
    },
  );
};
