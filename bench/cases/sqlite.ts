/**
 * SQLite: the readings ingest rate through the production batch writer (transactions of 2,000
 * rows with their rollups), and the history query (500 buckets, SQL and the whole REST request)
 * over 1M and 10M readings of one socket. The shapes and the timing are bench/history.bench.ts's.
 */
import { runShape, SHAPES, type Shape } from '../history.bench.js';
import type { BenchCase, Row } from '../lib/bench-case.js';

const TEN_MILLION: Shape = {
  name: '375 days at 3.24 s',
  stepMs: 3240,
  bucket: '18h',
  bucketMs: 18 * 3_600_000,
  readings: 10_000_000,
  rawRuns: 2,
};

export const sqlite: BenchCase = {
  name: 'sqlite',
  description: 'readings ingest rate with the production batching; 500-bucket history query over 1M and 10M readings',
  async run(options) {
    const shapes = options.quick ? [SHAPES[0]] : [...SHAPES, TEN_MILLION];
    const rows: Row[] = [];
    for (const shape of shapes) {
      const r = await runShape(shape);
      const label = `${(r.readings / 1e6).toFixed(0)}M readings, ${r.shape}`;
      options.log(
        `  ${label}: insert ${r.insert_readings_per_s}/s, SQL ${r.sql_median_ms} ms, REST ${r.rest_median_ms} ms, raw ${r.raw_readings_median_ms} ms`,
      );
      rows.push({
        case: 'sqlite',
        scenario: `ingest, ${label}`,
        result: `${r.insert_readings_per_s} readings/s (batches of 2,000 with rollups)`,
        target: '> 8,000 readings/s (a full bus)',
        met: r.insert_readings_per_s > 8000,
        data: r,
      });
      rows.push({
        case: 'sqlite',
        scenario: `history, ${label}, ${r.buckets} buckets of ${shape.bucket}`,
        result: `SQL ${r.sql_median_ms} ms (max ${r.sql_max_ms}), REST ${r.rest_median_ms} ms (max ${r.rest_max_ms}); from raw readings ${r.raw_readings_median_ms} ms`,
        target: 'REST < 100 ms',
        met: r.rest_median_ms < 100 && r.buckets === 500,
        data: r,
      });
    }
    return rows;
  },
};
