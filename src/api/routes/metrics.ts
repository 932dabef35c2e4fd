import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';

export const metricsRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['gateway'],
        summary: 'Prometheus metrics: CAN frames in/out/unknown/lost, MQTT and database latency, rule firings, process',
        produces: ['text/plain'],
      },
    },
    async (_request, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(await ctx.metrics()),
  );
};
