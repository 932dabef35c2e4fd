/** Reading history from SQLite, downsampled in SQL into min/avg/max per time bucket. */
import type { Db } from './database.js';
import { QUANTITIES, type Quantity } from '../gateway/device.js';

export interface Bucket {
  /** Start of the bucket, ms since the epoch. */
  t: number;
  count: number;
  values: Partial<Record<Quantity, { min: number; avg: number; max: number }>>;
}

export interface HistoryQuery {
  deviceId: number;
  from: number;
  to: number;
  bucketMs: number;
}

const aggregates = QUANTITIES.map((q) => `min(${q}) AS ${q}_min, avg(${q}) AS ${q}_avg, max(${q}) AS ${q}_max`).join(', ');

export class History {
  private readonly bucketed;

  constructor(db: Db) {
    this.bucketed = db.prepare<[number, number, number, number], Record<string, number | null>>(
      `SELECT ts - (ts % ?) AS t, count(*) AS count, ${aggregates}
       FROM readings WHERE device_id = ? AND ts >= ? AND ts < ?
       GROUP BY t ORDER BY t`,
    );
  }

  buckets(q: HistoryQuery): Bucket[] {
    return this.bucketed.all(q.bucketMs, q.deviceId, q.from, q.to).map((row) => {
      const values: Bucket['values'] = {};
      for (const quantity of QUANTITIES) {
        const avg = row[`${quantity}_avg`];
        if (avg !== null) values[quantity] = { min: row[`${quantity}_min`]!, avg, max: row[`${quantity}_max`]! };
      }
      return { t: row.t!, count: row.count!, values };
    });
  }
}
