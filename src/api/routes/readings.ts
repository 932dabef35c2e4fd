import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ReadingHistory } from '../../contracts/history.js';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { DeviceParams, ErrorResponse } from '../schemas.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MAX_BUCKETS = 10_000;
/** Without a bucket the range is cut into about this many. */
const DEFAULT_BUCKETS = 500;

/** ISO 8601 or epoch milliseconds. */
export function parseTime(text: string, name: string): number {
  const t = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(t)) throw new HttpError(400, `${name} must be an ISO 8601 time or epoch milliseconds; got "${text}"`);
  return t;
}

export function parseDuration(text: string, name: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  const ms = match ? Number(match[1]) * UNITS[match[2]] : 0;
  if (ms <= 0) throw new HttpError(400, `${name} must be a duration such as 500ms, 10s, 1m, 1h or 1d; got "${text}"`);
  return ms;
}

/** Bucket widths a default is rounded up to: whole minutes and hours let the rollups answer. */
const NICE_BUCKETS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

/** Beyond this range a default bucket is whole hours: the hourly tier, indexed by device. */
const HOURLY_FROM_MS = 2 * 86_400_000;

/**
 * The narrowest nice bucket that cuts the range into at most DEFAULT_BUCKETS; whole hours beyond two
 * days. The per-minute tier is ordered by time for cheap writes (migration 005), so reading a week of
 * it for one device scans every device's minutes; the hourly tier answers a week in a few ms.
 */
export function defaultBucket(rangeMs: number): number {
  const wanted = Math.max(rangeMs / DEFAULT_BUCKETS, rangeMs > HOURLY_FROM_MS ? 3_600_000 : 0);
  return NICE_BUCKETS.find((b) => b >= wanted) ?? Math.ceil(wanted / 86_400_000) * 86_400_000;
}

export const readingRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.get(
    '/api/devices/:id/readings',
    {
      schema: {
        tags: ['history'],
        summary: 'Reading history, downsampled to min/avg/max per bucket',
        description:
          'From the raw readings (stored on change, kept `database.retention_days`), the per-minute rollups (every reading, kept ' +
          '`minute_retention_days`) or the hourly ones (kept `hour_retention_days`, default for ever), chosen by the bucket. A range ' +
          'that reaches back past where a tier has aged out, or a range over 6 h in buckets under a minute, is answered from the next ' +
          'coarser one, with a wider bucket. In the raw ' +
          'tier a quiet bucket holds the last stored value (it had not moved beyond its deadband).',
        params: DeviceParams,
        querystring: Type.Object({
          from: Type.Optional(Type.String({ description: 'ISO 8601 or epoch ms; default: one hour before `to`' })),
          to: Type.Optional(Type.String({ description: 'ISO 8601 or epoch ms; default: now' })),
          bucket: Type.Optional(
            Type.String({
              description: 'bucket width such as 10s, 1m, 1h; default: the range cut into at most 500 buckets of a round width',
            }),
          ),
        }),
        response: {
          200: ReadingHistory,
          400: ErrorResponse,
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const device = ctx.registry.find(request.params.id);
      if (!device) throw notFound(`no device "${request.params.id}"`);
      const q = request.query;
      const to = q.to !== undefined ? parseTime(q.to, 'to') : Date.now();
      const from = q.from !== undefined ? parseTime(q.from, 'from') : to - 3_600_000;
      if (from >= to) throw new HttpError(400, `from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`);
      const bucketMs = q.bucket !== undefined ? parseDuration(q.bucket, 'bucket') : defaultBucket(to - from);
      if ((to - from) / bucketMs > MAX_BUCKETS) {
        throw new HttpError(
          400,
          `the range holds more than ${MAX_BUCKETS} buckets of ${q.bucket}; choose a wider bucket or a shorter range`,
        );
      }
      const answer = ctx.history.query({ deviceId: device.id, from, to, bucketMs });
      return {
        device: device.name,
        from,
        to,
        bucket_ms: answer.bucketMs,
        tier: answer.tier,
        buckets: answer.buckets.map((b) => ({ t: b.t, count: b.count, ...b.values })),
      };
    },
  );
};
