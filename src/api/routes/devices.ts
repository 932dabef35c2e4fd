import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { DeviceSettings, DeviceView } from '../../contracts/device.js';
import { DeviceParams, ErrorResponse, deviceView } from '../schemas.js';
import type { Device } from '../../gateway/device.js';
import { applySettings, commandNode } from '../../gateway/node-settings.js';

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

  app.patch(
    '/api/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: 'Rename a device and/or change its settings (settings are merged; node settings are sent to the node first)',
        params: DeviceParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ description: 'new friendly name: changes its MQTT topics and URL' })),
            settings: Type.Optional(DeviceSettings),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: DeviceView, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 503: ErrorResponse, 504: ErrorResponse },
      },
    },
    async (request) => {
      const device = find(request.params.id);
      const { name, settings } = request.body;
      // Check the name before touching the node, so a bad name changes nothing.
      if (name !== undefined && name !== device.name) {
        const problem = ctx.registry.nameProblem(name, device);
        if (problem) throw new HttpError(400, problem);
      }
      if (settings) await applySettings(ctx.registry, ctx.commands, device, settings);
      if (name !== undefined && name !== device.name) ctx.registry.rename(device, name);
      return deviceView(device);
    },
  );

  app.post(
    '/api/devices/:id/identify',
    {
      schema: {
        tags: ['devices'],
        summary: "Blink the socket's status LED, to find it on the wall",
        params: DeviceParams,
        querystring: Type.Object({
          seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 255, description: 'how long to blink; default 10' })),
        }),
        response: {
          200: Type.Object({ device: Type.String(), seconds: Type.Integer() }),
          400: ErrorResponse,
          404: ErrorResponse,
          409: ErrorResponse,
          503: ErrorResponse,
          504: ErrorResponse,
        },
      },
    },
    async (request) => {
      const device = find(request.params.id);
      const seconds = request.query.seconds ?? 10;
      await commandNode(ctx.commands, device, { op: 'identify', seconds }, 'identify');
      return { device: device.name, seconds };
    },
  );
};
