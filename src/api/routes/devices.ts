import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { DeviceParams, DeviceView, ErrorResponse, deviceView } from '../schemas.js';
import type { Device } from '../../gateway/device.js';

export const deviceRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  const find = (id: string): Device => {
    const device = ctx.registry.find(id);
    if (!device) throw notFound(`no device "${id}" (use a name, a node id or a key from GET /api/devices)`);
    return device;
  };

  app.get(
    '/api/devices',
    { schema: { tags: ['devices'], summary: 'All devices with their live state', response: { 200: Type.Array(DeviceView) } } },
    async () => ctx.registry.list().map(deviceView),
  );

  app.get(
    '/api/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: 'One device',
        params: DeviceParams,
        response: { 200: DeviceView, 404: ErrorResponse },
      },
    },
    async (request) => deviceView(find(request.params.id)),
  );

  app.put(
    '/api/devices/:id/relay',
    {
      schema: {
        tags: ['devices'],
        summary: 'Switch the relay; answers once the node confirms',
        params: DeviceParams,
        body: Type.Object({ on: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: DeviceView, 404: ErrorResponse, 409: ErrorResponse, 503: ErrorResponse, 504: ErrorResponse },
      },
    },
    async (request) => {
      const device = find(request.params.id);
      await ctx.control.setRelay(device, request.body.on ? 'close' : 'open', 'rest');
      return deviceView(device);
    },
  );
};
