/** Firmware updates over the bus (docs/firmware-updates.md): start one, see how it goes. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { DeviceParams, ErrorResponse } from '../schemas.js';
import { BundleSchema } from '../../gateway/firmware-bundle.js';
import { FirmwareStatus } from '../../contracts/firmware.js';

/** A bundle of the current firmware is about 200 KiB as JSON; this leaves room for .py sources with comments. */
export const FIRMWARE_BODY_LIMIT = 4 * 1024 * 1024;

const view = (status: FirmwareStatus) => status;

export const firmwareRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.addSchema(BundleSchema);

  app.post(
    '/api/devices/:id/firmware',
    {
      bodyLimit: FIRMWARE_BODY_LIMIT,
      schema: {
        tags: ['devices'],
        summary: 'Update the socket\'s firmware over the bus: 202 once queued; progress on /api/live ("firmware" messages) and GET',
        params: DeviceParams,
        body: Type.Object(
          {
            bundle: Type.Optional(
              Type.Ref(BundleSchema, { description: "a bundle from canplug firmware build; default: the gateway's (firmware.bundle)" }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 202: FirmwareStatus, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 503: ErrorResponse },
      },
    },
    async (request, reply) => {
      const device = ctx.registry.find(request.params.id);
      if (!device) throw notFound(`no device "${request.params.id}" (use a name, a node id or a key from GET /api/devices)`);
      return reply.status(202).send(view(ctx.firmware.update(device, 'rest', request.body.bundle)));
    },
  );

  app.get(
    '/api/devices/:id/firmware',
    {
      schema: {
        tags: ['devices'],
        summary: "The socket's firmware: running version, the version the gateway offers, its last update since the gateway started",
        params: DeviceParams,
        response: {
          200: Type.Object({
            installed: Type.Union([Type.String(), Type.Null()]),
            latest: Type.Union([Type.String(), Type.Null()], { description: "version of the gateway's bundle; null: none built yet" }),
            update: Type.Union([FirmwareStatus, Type.Null()]),
          }),
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const device = ctx.registry.find(request.params.id);
      if (!device) throw notFound(`no device "${request.params.id}" (use a name, a node id or a key from GET /api/devices)`);
      const status = ctx.firmware.status(device);
      return {
        installed: device.info.firmware ?? null,
        latest: ctx.firmware.latestVersion() ?? null,
        update: status ? view(status) : null,
      };
    },
  );
};
