import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';

export const configRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.get(
    '/api/config',
    {
      schema: {
        tags: ['gateway'],
        summary: 'The configuration in force, without secrets (passwords, keys and the API token are never shown)',
        response: {
          200: Type.Object({
            version: Type.String(),
            auth: Type.Object({
              enabled: Type.Boolean(),
              read_protection: Type.Boolean(),
              token_file: Type.Union([Type.String(), Type.Null()]),
            }),
            config: Type.Record(Type.String(), Type.Unknown()),
          }),
        },
      },
    },
    async () => ({
      version: ctx.version,
      auth: { enabled: ctx.tokens !== undefined, read_protection: ctx.http.read_protection, token_file: ctx.tokens?.path ?? null },
      config: ctx.configSummary() as Record<string, unknown>,
    }),
  );
};
