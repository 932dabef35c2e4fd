/** Stored history as REST answers it and the dashboard charts it: readings per bucket, energy per period. */
import { Type, type Static, type TObject, type TOptional } from '@sinclair/typebox';
import { ENERGY_PERIODS, HISTORY_TIERS, QUANTITIES, UNITS, type Quantity } from './vocabulary.js';

const Stat = Type.Object({ min: Type.Number(), avg: Type.Number(), max: Type.Number() });
export type Stat = Static<typeof Stat>;

const perQuantity = Object.fromEntries(
  QUANTITIES.map((q) => [q, Type.Optional(Type.Object(Stat.properties, { description: UNITS[q] }))]),
) as Record<Quantity, TOptional<TObject<(typeof Stat)['properties']>>>;

/** GET /api/devices/:id/readings */
export const ReadingHistory = Type.Object({
  device: Type.String(),
  from: Type.Integer(),
  to: Type.Integer(),
  bucket_ms: Type.Integer({
    description: 'the bucket used: the one asked for, widened to whole minutes or hours where the finer rows have aged out',
  }),
  tier: Type.Union(
    HISTORY_TIERS.map((t) => Type.Literal(t)),
    { description: 'where the buckets come from: raw readings (kept days), per-minute rollups (about a year) or hourly ones (for ever)' },
  ),
  buckets: Type.Array(Type.Object({ t: Type.Integer(), count: Type.Integer(), ...perQuantity })),
});
export type ReadingHistory = Static<typeof ReadingHistory>;

export const EnergyPeriodSchema = Type.Union(ENERGY_PERIODS.map((p) => Type.Literal(p)));

/** GET /api/devices/:id/energy */
export const EnergyHistory = Type.Object({
  device: Type.String(),
  period: EnergyPeriodSchema,
  time_zone: Type.String(),
  unit: Type.Literal('kWh'),
  total_kwh: Type.Number(),
  periods: Type.Array(
    Type.Object({
      start: Type.String({ format: 'date-time' }),
      end: Type.String({ format: 'date-time' }),
      kwh: Type.Union([Type.Number(), Type.Null()], { description: 'null: no counter reading covers the period' }),
    }),
  ),
});
export type EnergyHistory = Static<typeof EnergyHistory>;
