import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EventEntry, EventTypeSchema, OriginSchema } from '../../contracts/event-entry.js';
import type { ApiContext } from '../context.js';
import { HttpError } from '../errors.js';
import { ErrorResponse } from '../schemas.js';
import { parseTime } from './readings.js';

export const eventRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.get(
    '/api/events',
    {
      schema: {
        tags: ['events'],
        summary: 'The event log, newest first: trips, refusals, resets, limit changes, switching, availability, alarms, rules',
        querystring: Type.Object({
          device: Type.Optional(Type.String({ description: 'name, node id or key' })),
          type: Type.Optional(EventTypeSchema),
          origin: Type.Optional(OriginSchema),
          from: Type.Optional(Type.String({ description: 'ISO 8601 or epoch ms' })),
          to: Type.Optional(Type.String({ description: 'ISO 8601 or epoch ms' })),
          before: Type.Optional(Type.Integer({ minimum: 1, description: 'next page: the next_before of the previous page' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
        response: {
          200: Type.Object({
            events: Type.Array(EventEntry),
            next_before: Type.Union([Type.Integer(), Type.Null()]),
          }),
          400: ErrorResponse,
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const q = request.query;
      let deviceId: number | undefined;
      if (q.device !== undefined) {
        const device = ctx.registry.find(q.device);
        if (!device) throw new HttpError(404, `no device "${q.device}"`);
        deviceId = device.id;
      }
      ctx.flushPending();
      const limit = q.limit ?? 100;
      const events = ctx.eventLog.query({
        deviceId,
        type: q.type,
        origin: q.origin,
        from: q.from !== undefined ? parseTime(q.from, 'from') : undefined,
        to: q.to !== undefined ? parseTime(q.to, 'to') : undefined,
        before: q.before,
        limit,
      });
      return {
        events: events.map((e) => ({ ...e, ts: new Date(e.ts).toISOString() })),
        next_before: events.length === limit ? events[events.length - 1].id : null,
      };
    },
  );
};
