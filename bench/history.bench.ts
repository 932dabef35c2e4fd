/**
 * History benchmark: 1,000,000 stored readings, one query for 500 buckets (the bar: under 100 ms).
 * Run alone: node --import tsx bench/history.bench.ts; in the suite: npm run bench -- sqlite
 * (bench/cases/sqlite.ts, which adds 10,000,000 readings).
 *
 * Two shapes of the same million readings of one socket: every 1.2 s for about 14 days (500 buckets
 * of 40 minutes, read from the per-minute rollup) and every 32.4 s for 375 days (500 buckets of 18
 * hours, from the hourly rollup). Each is timed three ways: History.buckets (SQL), the whole REST
 * request through Fastify, and the raw-readings query the rollups replace (for comparison).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../src/db/database.js';
import { SqliteDeviceStore } from '../src/db/devices.js';
import { History } from '../src/db/history.js';
import { BatchWriter, type ReadingRow } from '../src/db/writer.js';
import { parseConfig } from '../src/config/config.js';
import { Gateway } from '../src/daemon/gateway.js';
import { silentLogger } from '../src/log.js';

const DEFAULT_READINGS = 1_000_000;
const BUCKETS = 500;
const RUNS = 15;

export interface Shape {
  name: string;
  stepMs: number;
  bucket: string;
  bucketMs: number;
  /** Readings to store (default 1,000,000). */
  readings?: number;
  /** Timed repetitions of the raw-readings query (default 5). */
  rawRuns?: number;
}

export const SHAPES: Shape[] = [
  { name: '14 days at 1.2 s', stepMs: 1200, bucket: '40m', bucketMs: 40 * 60_000 },
  { name: '375 days at 32.4 s', stepMs: 32_400, bucket: '18h', bucketMs: 18 * 3_600_000 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn: () => unknown, runs = RUNS): number[] {
  fn(); // warm the page cache and the statement
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    fn();
    ms.push(performance.now() - started);
  }
  return ms;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number[]> {
  await fn();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await fn();
    ms.push(performance.now() - started);
  }
  return ms;
}

/** Readings as the sockets send them: power frames, environment frames and energy frames in turn. */
function reading(i: number, ts: number): ReadingRow {
  switch (i % 3) {
    case 0:
      return { deviceId: 1, ts, voltage: 228 + (i % 40) / 10, current: (i % 500) / 100, power: (i % 1100) * 1.0, relay: true };
    case 1:
      return { deviceId: 1, ts, humidity: 40 + (i % 300) / 10, temperature: 18 + (i % 80) / 10 };
    default:
      return { deviceId: 1, ts, energy: i / 3000 };
  }
}

export async function runShape(shape: Shape) {
  const readings = shape.readings ?? DEFAULT_READINGS;
  const dir = mkdtempSync(join(tmpdir(), 'canplug-bench-'));
  try {
    const path = join(dir, 'bench.db');
    const db = openDatabase(path);
    new SqliteDeviceStore(db).insert('can:1', 'can', 'socket-1');
    const writer = new BatchWriter(db, { flushIntervalMs: 1000, log: silentLogger });
    // Buckets start at multiples of their width since the epoch: start the data on one.
    const from = Math.ceil(Date.UTC(2025, 0, 1) / shape.bucketMs) * shape.bucketMs;
    const insertStarted = performance.now();
    for (let i = 0; i < readings; i++) writer.addReading(reading(i, from + i * shape.stepMs));
    writer.flush();
    const insertMs = performance.now() - insertStarted;
    const to = from + readings * shape.stepMs;

    const history = new History(db);
    const buckets = history.buckets({ deviceId: 1, from, to, bucketMs: shape.bucketMs });
    const sql = time(() => history.buckets({ deviceId: 1, from, to, bucketMs: shape.bucketMs }));
    // One millisecond more per bucket: no rollup fits, so every raw reading is grouped.
    const rawRuns = shape.rawRuns ?? 5;
    const raw = time(() => history.buckets({ deviceId: 1, from, to, bucketMs: shape.bucketMs + 1 }), rawRuns);
    db.close();

    const config = parseConfig({
      can: { sim: { nodes: [1] } },
      mqtt: { embedded_port: 0 },
      http: { port: 0 },
      database: { path },
      udp: { port: 0 },
      log: { level: 'silent' },
    });
    const gateway = new Gateway({ config, log: silentLogger });
    await gateway.start();
    const url = `/api/devices/socket-1/readings?from=${from}&to=${to}&bucket=${shape.bucket}`;
    const response = await gateway.parts.api.inject({ url });
    if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${response.body}`);
    const restBuckets = response.json().buckets.length;
    const rest = await timeAsync(() => gateway.parts.api.inject({ url }));
    await gateway.stop();

    return {
      shape: shape.name,
      readings,
      buckets: buckets.length,
      rest_buckets: restBuckets,
      insert_readings_per_s: Math.round(readings / (insertMs / 1000)),
      sql_median_ms: +median(sql).toFixed(2),
      sql_max_ms: +Math.max(...sql).toFixed(2),
      rest_median_ms: +median(rest).toFixed(2),
      rest_max_ms: +Math.max(...rest).toFixed(2),
      raw_readings_median_ms: +median(raw).toFixed(1),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run() {
  const results = [];
  for (const shape of SHAPES) {
    const r = await runShape(shape);
    results.push(r);
    console.log(
      `${r.shape}: ${r.readings} readings written at ${r.insert_readings_per_s}/s; ${r.buckets} buckets in ${r.sql_median_ms} ms (SQL, median; max ${r.sql_max_ms}), ` +
        `${r.rest_median_ms} ms over REST (max ${r.rest_max_ms}); without rollups ${r.raw_readings_median_ms} ms`,
    );
  }
  const ok = results.every((r) => r.buckets === BUCKETS && r.rest_median_ms < 100);
  console.log(ok ? `bar met: ${BUCKETS} buckets over ${DEFAULT_READINGS} readings in under 100 ms` : 'bar NOT met');
  const out = join(fileURLToPath(new URL('.', import.meta.url)), 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'history.json'), `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
  return { ok, results };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { ok } = await run();
  process.exitCode = ok ? 0 : 1;
}
