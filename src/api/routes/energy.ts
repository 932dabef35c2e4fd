import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { DeviceParams, ErrorResponse } from '../schemas.js';
import { EnergyHistory, EnergyPeriodSchema } from '../../contracts/history.js';
import type { EnergyPeriod } from '../../contracts/vocabulary.js';
import { nextPeriod, periodStart } from '../../gateway/energy-periods.js';
import { parseTime } from './readings.js';

/** Periods shown when `from` is not given. */
const DEFAULT_COUNT: Record<EnergyPeriod, number> = { day: 31, week: 12, month: 12 };
const MAX_PERIODS = 1000;

export const energyRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.get(
    '/api/devices/:id/energy',
    {
      schema: {
        tags: ['history'],
        summary: "Energy used per day, week (from Monday) or month, in the gateway's local time zone",
        params: DeviceParams,
        querystring: Type.Object({
          period: Type.Optional(Type.Union(EnergyPeriodSchema.anyOf, { default: 'day' })),
          from: Type.Optional(Type.String({ description: 'ISO 8601 or epoch ms; default: 31 days, 12 weeks or 12 months back' })),
          to: Type.Optional(Type.String({ description: 'ISO 8601 or epoch ms; default: now' })),
        }),
        response: {
          200: EnergyHistory,
          400: ErrorResponse,
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const device = ctx.registry.find(request.params.id);
      if (!device) throw notFound(`no device "${request.params.id}"`);
      const period = request.query.period ?? 'day';
      const to = request.query.to !== undefined ? parseTime(request.query.to, 'to') : Date.now();
      let from = request.query.from !== undefined ? parseTime(request.query.from, 'from') : periodStart(to, period);
      if (request.query.from === undefined) {
        // Step back a calendar period at a time (months differ in length).
        for (let i = 1; i < DEFAULT_COUNT[period]; i++) from = periodStart(from - 1, period);
      }
      if (from >= to) throw new HttpError(400, `from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`);
      let count = 0;
      for (let t = periodStart(from, period); t < to && count <= MAX_PERIODS; t = nextPeriod(t, period)) count++;
      if (count > MAX_PERIODS)
        throw new HttpError(400, `the range holds more than ${MAX_PERIODS} ${period}s; choose a longer period or a shorter range`);
      const rows = ctx.energy.perPeriod(device.id, period, from, to);
      return {
        device: device.name,
        period,
        time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone,
        unit: 'kWh' as const,
        total_kwh: Math.round(rows.reduce((sum, r) => sum + (r.kwh ?? 0), 0) * 1000) / 1000,
        periods: rows.map((r) => ({ start: new Date(r.start).toISOString(), end: new Date(r.end).toISOString(), kwh: r.kwh })),
      };
    },
  );
};
