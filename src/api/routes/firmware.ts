/** Firmware updates over the bus (docs/firmware-updates.md): start one, see how it goes. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { DeviceParams, ErrorResponse } from '../schemas.js';
import { BundleSchema } from '../../gateway/firmware-bundle.js';
import type { FirmwareStatus } from '../../gateway/firmware-session.js';
import { UpdateRefusedError } from '../../gateway/firmware-updater.js';

/** A bundle of the current firmware is about 200 KiB as JSON; this leaves room for .py sources with comments. */
export const FIRMWARE_BODY_LIMIT = 4 * 1024 * 1024;

const Stage = Type.Union(['queued', 'checking', 'transferring', 'installing', 'confirming', 'installed', 'failed'].map((s) => Type.Literal(s)));
const FirmwareStatusView = Type.Object(
  {
    device: Type.String(),
    key: Type.String(),
    node: Type.Integer(),
    stage: Stage,
    from: Type.Optional(Type.String({ description: 'the version the socket ran when the update started' })),
    to: Type.String(),
    progress: Type.Integer({ minimum: 0, maximum: 100 }),
    sentBytes: Type.Integer(),
    totalBytes: Type.Integer(),
    nodeFreeBytes: Type.Optional(Type.Integer({ description: 'free flash the socket announced' })),
    nodeBlockSize: Type.Optional(Type.Integer({ description: 'consecutive frames the socket takes per flow control' })),
    error: Type.Optional(Type.String()),
    origin: Type.String(),
    startedAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
    transferMs: Type.Optional(Type.Integer()),
    copiedFiles: Type.Integer({ description: 'files the socket already had and copied from its running firmware instead of receiving them' }),
  },
  { $id: 'FirmwareStatus' },
);

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
          { bundle: Type.Optional(Type.Ref(BundleSchema, { description: 'a bundle from canplug firmware build; default: the gateway\'s (firmware.bundle)' })) },
          { additionalProperties: false },
        ),
        response: { 202: FirmwareStatusView, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 503: ErrorResponse },
      },
    },
    async (request, reply) => {
      const device = ctx.registry.find(request.params.id);
      if (!device) throw notFound(`no device "${request.params.id}" (use a name, a node id or a key from GET /api/devices)`);
      try {
        return reply.status(202).send(view(ctx.firmware.update(device, 'rest', request.body.bundle)));
      } catch (error) {
        if (error instanceof UpdateRefusedError) throw new HttpError(error.status, error.message);
        throw error;
      }
    },
  );

  app.get(
    '/api/devices/:id/firmware',
    {
      schema: {
        tags: ['devices'],
        summary: 'The socket\'s firmware: running version, the version the gateway offers, its last update since the gateway started',
        params: DeviceParams,
        response: {
          200: Type.Object({
            installed: Type.Union([Type.String(), Type.Null()]),
            latest: Type.Union([Type.String(), Type.Null()], { description: 'version of the gateway\'s bundle; null: none built yet' }),
            update: Type.Union([FirmwareStatusView, Type.Null()]),
          }),
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const device = ctx.registry.find(request.params.id);
      if (!device) throw notFound(`no device "${request.params.id}" (use a name, a node id or a key from GET /api/devices)`);
      const status = ctx.firmware.status(device);
      return { installed: device.info.firmware ?? null, latest: ctx.firmware.latestVersion() ?? null, update: status ? view(status) : null };
    },
  );
};
