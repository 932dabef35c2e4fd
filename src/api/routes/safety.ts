import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { DeviceView } from '../../contracts/device.js';
import { DeviceParams, ErrorResponse, deviceView } from '../schemas.js';
import { LimitsPatch } from '../../gateway/safety.js';

const Limits = Type.Required(LimitsPatch);

export const safetyRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  const find = (id: string) => {
    const device = ctx.registry.find(id);
    if (!device) throw notFound(`no device "${id}"`);
    return device;
  };

  app.get(
    '/api/devices/:id/limits',
    {
      schema: {
        tags: ['safety'],
        summary: 'The safety limits in force for a device',
        params: DeviceParams,
        response: { 200: Limits, 404: ErrorResponse },
      },
    },
    async (request) => ctx.safety.limits(find(request.params.id)),
  );

  app.put(
    '/api/devices/:id/limits',
    {
      schema: {
        tags: ['safety'],
        summary: "Change a device's limits (stored, and pushed to the node); while interlocked they can only get stricter (409)",
        params: DeviceParams,
        body: LimitsPatch,
        response: { 200: Limits, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 504: ErrorResponse },
      },
    },
    async (request) => {
      return ctx.safety.setLimits(find(request.params.id), request.body, 'rest');
    },
  );

  app.post(
    '/api/devices/:id/reset',
    {
      schema: {
        tags: ['safety'],
        summary: 'Reset an interlock latch: refused (409) until the condition has cleared',
        params: DeviceParams,
        response: { 200: DeviceView, 404: ErrorResponse, 409: ErrorResponse, 504: ErrorResponse },
      },
    },
    async (request) => {
      const device = find(request.params.id);
      await ctx.safety.reset(device, 'rest');
      return deviceView(device);
    },
  );
};
