import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';

export const healthRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.get(
    '/api/health',
    {
      schema: {
        tags: ['gateway'],
        summary: 'ok once CAN, MQTT and the database are up (503 otherwise)',
        response: {
          200: Type.Object({ status: Type.String() }, { additionalProperties: true }),
          503: Type.Object({ status: Type.String() }, { additionalProperties: true }),
        },
      },
    },
    async (_request, reply) => {
      const report = ctx.health();
      return reply.status(report.status === 'ok' ? 200 : 503).send(report);
    },
  );
};
