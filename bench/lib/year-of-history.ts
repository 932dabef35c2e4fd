/**
 * A year of history for 10 sockets, generated (not waited for), at the default settings: how big the
 * database gets, per tier, and whether the history API answers every range from an hour to a year,
 * now and long ago, without a gap (bucket after bucket, each with values), and how fast.
 *
 * The last 7 days (the raw tier's retention) go through the production BatchWriter at the default
 * report period: a power and an environment frame per socket every second, an energy frame every
 * 10 s, values wandering like the demo's, stored on change by the default policy. The 358 days
 * before are generated as the per-minute rows the writer would have left (126 readings a minute,
 * min/max/sum of the same kind of values), and the hourly rows from them. Then the daily retention
 * runs once, as the daemon would.
 */
import { join } from 'node:path';
import { openDatabase, type Db } from '../../src/db/database.js';
import { SqliteDeviceStore } from '../../src/db/devices.js';
import { pruneDatabase } from '../../src/db/prune.js';
import { retentionCutoffs, retentionDays } from '../../src/db/retention.js';
import { STORED_SCALE } from '../../src/db/rollups.js';
import { BatchWriter } from '../../src/db/writer.js';
import { parseConfig } from '../../src/config/config.js';
import { storedReadingsPolicy } from '../../src/db/writer.js';
import { Gateway } from '../../src/daemon/gateway.js';
import { QUANTITIES, type Quantity } from '../../src/contracts/vocabulary.js';
import { silentLogger } from '../../src/log.js';
import { withTempDir, type BenchOptions, type Row } from './bench-case.js';
import { median, round } from './stats.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const SOCKETS = 10;
const LOADS = [60, 800, 120];

interface Socket {
  /** The socket's usual load, W: the power wanders around it. */
  load: number;
  power: number;
  humidity: number;
  temperature: number;
  energyWh: number;
}

const wander = (x: number, spread: number) => x + (Math.random() - 0.5) * spread;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** The per-minute rows of [from, to): 126 readings a minute per socket, as the writer folds them. */
function generateMinutes(db: Db, sockets: Socket[], from: number, to: number): void {
  const columns = ['t', 'device_id', 'n', ...QUANTITIES.flatMap((q) => [`${q}_min`, `${q}_max`, `${q}_sum`, `${q}_n`])];
  const insert = db.prepare(`INSERT INTO readings_1m (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  const scaled = (q: Quantity, v: number) => Math.round(v * STORED_SCALE[q]);
  for (let day = from; day < to; day += DAY) {
    db.transaction(() => {
      for (let t = day; t < Math.min(to, day + DAY); t += MINUTE) {
        sockets.forEach((s, i) => {
          s.power = clamp(s.power * (1 + (Math.random() - 0.5) * 0.15) + 0.1 * (s.load - s.power), 1, 3000);
          s.humidity = clamp(wander(s.humidity, 2), 20, 95);
          s.temperature = clamp(wander(s.temperature, 0.4), 5, 40);
          const e0 = s.energyWh;
          s.energyWh += s.power / 60;
          const stat = (q: Quantity, mean: number, spread: number, n: number) => [
            scaled(q, mean - spread),
            scaled(q, mean + spread),
            scaled(q, mean) * n,
            n,
          ];
          insert.run(
            t,
            i + 1,
            126,
            ...stat('voltage', 230, 1, 60),
            ...stat('current', s.power / 230, s.power / 230 / 50, 60),
            ...stat('power', s.power, s.power / 50, 60),
            // The counter in whole Wh, as the energy frames carry it (energy is stored in Wh).
            ...[Math.floor(e0), Math.floor(s.energyWh), Math.floor((e0 + s.energyWh) / 2) * 6, 6],
            ...stat('humidity', s.humidity, 0.5, 60),
            ...stat('temperature', s.temperature, 0.1, 60),
          );
        });
      }
    })();
  }
  const sums = QUANTITIES.map((q) => `min(${q}_min), max(${q}_max), sum(${q}_sum), sum(${q}_n)`).join(', ');
  db.prepare(
    `INSERT INTO readings_1h SELECT t - t % ${HOUR}, device_id, sum(n), ${sums} FROM readings_1m WHERE t >= ? AND t < ? GROUP BY 1, 2 ORDER BY 1, 2`,
  ).run(from, to);
}

/** The last days through the production writer: every reading, stored on change. Returns the readings and each socket's last counter report. */
function generateReadings(writer: BatchWriter, sockets: Socket[], from: number, to: number): { readings: number; lastWh: number[] } {
  let readings = 0;
  const lastWh: number[] = [];
  for (let t = from; t < to; t += 1000) {
    sockets.forEach((s, i) => {
      s.power = clamp(s.power * (1 + (Math.random() - 0.5) * 0.04) + 0.01 * (s.load - s.power), 1, 3000);
      s.humidity = clamp(wander(s.humidity, 0.6), 20, 95);
      s.temperature = clamp(wander(s.temperature, 0.1), 5, 40);
      s.energyWh += s.power / 3600;
      const voltage = wander(230, 2);
      const ts = t + i;
      writer.addReading({ deviceId: i + 1, ts, voltage, current: s.power / voltage, power: s.power, relay: true });
      writer.addReading({ deviceId: i + 1, ts: ts + 500, humidity: s.humidity, temperature: s.temperature });
      readings += 2;
      if ((t / 1000) % 10 === 0) {
        lastWh[i] = Math.floor(s.energyWh);
        writer.addReading({ deviceId: i + 1, ts: ts + 700, energy: lastWh[i] / 1000 });
        readings++;
      }
    });
    if (t % HOUR === 0) writer.flush(); // not every 30 s: a commit per simulated hour keeps the generation fast
  }
  writer.flush();
  return { readings, lastWh };
}

interface RangeCheck {
  name: string;
  from: number;
  to: number;
}

/** The ranges within the `days` generated (a quick run generates 40). */
async function checkRanges(gateway: Gateway, now: number, days: number): Promise<Row[]> {
  const ranges: RangeCheck[] = [
    ...[
      ['1 h', HOUR],
      ['6 h', 6 * HOUR],
      ['24 h', DAY],
      ['7 d', 7 * DAY],
      ['30 d', 30 * DAY],
      ['1 y', 365 * DAY],
    ].map(([label, ms]) => ({ name: `the last ${label}`, from: now - (ms as number), to: now })),
    { name: '1 h, 3 days ago (raw)', from: now - 3 * DAY, to: now - 3 * DAY + HOUR },
    { name: '1 h, 30 days ago (raw aged out)', from: now - 30 * DAY, to: now - 30 * DAY + HOUR },
    { name: '24 h, 200 days ago', from: now - 200 * DAY, to: now - 199 * DAY },
    { name: '7 d, 300 days ago', from: now - 300 * DAY, to: now - 293 * DAY },
    { name: '1 h, 364 days ago', from: now - 364 * DAY, to: now - 364 * DAY + HOUR },
  ];
  const rows: Row[] = [];
  for (const range of ranges.filter((r) => r.from >= now - days * DAY)) {
    const url = `/api/devices/socket-2/readings?from=${Math.round(range.from)}&to=${Math.round(range.to)}`;
    const ms: number[] = [];
    let body: { bucket_ms: number; tier: string; buckets: { t: number; power?: unknown }[] } | undefined;
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      const res = await gateway.parts.api.inject({ url });
      if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
      if (i > 0) ms.push(performance.now() - started); // the first warms the page cache
      body = res.json();
    }
    const { bucket_ms: bucket, tier, buckets } = body!;
    // Every bucket that overlaps the range is there, with values: no gap.
    const expected: number[] = [];
    for (let b = range.from - (range.from % bucket); b < range.to; b += bucket) expected.push(b);
    const present = new Set(buckets.filter((b) => b.power !== undefined).map((b) => b.t));
    const missing = expected.filter((b) => !present.has(b));
    rows.push({
      case: 'storage',
      scenario: `history of a year, ${range.name}`,
      result: `${buckets.length} buckets of ${bucket / 1000} s from the ${tier} tier, ${missing.length} missing; REST ${round(median(ms), 1)} ms (median of 5)`,
      target: 'no gap',
      met: missing.length === 0,
      data: {
        ...range,
        url,
        bucket_ms: bucket,
        tier,
        buckets: buckets.length,
        expected: expected.length,
        missing: missing.slice(0, 10),
        rest_ms: ms.map((m) => round(m, 1)),
      },
    });
  }
  return rows;
}

export function yearOfHistory(options: BenchOptions): Promise<Row[]> {
  return withTempDir(async (dir) => {
    const path = join(dir, 'year.db');
    const config = parseConfig({
      can: { sim: { nodes: [] } },
      mqtt: { embedded_port: 0 },
      http: { port: 0 },
      udp: { port: 0 },
      database: { path },
      log: { level: 'silent' },
    });
    const now = Math.floor(Date.now() / MINUTE) * MINUTE;
    const days = options.quick ? 40 : 366; // one day more than the per-minute retention: the retention run trims it
    const rawDays = config.database.retention_days;
    const db = openDatabase(path);
    const store = new SqliteDeviceStore(db);
    for (let i = 1; i <= SOCKETS; i++) store.insert(`can:${i}`, 'can', `socket-${i}`);
    const sockets: Socket[] = Array.from({ length: SOCKETS }, (_, i) => ({
      load: LOADS[i % 3],
      power: LOADS[i % 3],
      humidity: 40 + 5 * (i % 4),
      temperature: 21,
      energyWh: 1000 * i,
    }));
    const firstWh = sockets[1].energyWh;
    let started = performance.now();
    generateMinutes(db, sockets, now - days * DAY, now - rawDays * DAY);
    const minutesMs = performance.now() - started;
    started = performance.now();
    const writer = new BatchWriter(db, { flushIntervalMs: 30_000, storePolicy: storedReadingsPolicy(config.database), log: silentLogger });
    const { readings, lastWh } = generateReadings(writer, sockets, now - rawDays * DAY, now);
    const readingsMs = performance.now() - started;
    const pruned = await pruneDatabase(db, { cutoffs: retentionCutoffs(retentionDays(config.database), now), pauseMs: 0 });
    db.pragma('wal_checkpoint(TRUNCATE)');
    const tiers = db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as {
      name: string;
      bytes: number;
    }[];
    const size = db.prepare('SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()').pluck().get() as number;
    const count = (table: string) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    const counts = { readings: count('readings'), readings_1m: count('readings_1m'), readings_1h: count('readings_1h') };
    db.close();
    const table = (name: string) => tiers.find((t) => t.name === name)?.bytes ?? 0;
    const mb = (bytes: number) => round(bytes / 1e6, 1);
    const perSocketMonth = {
      raw_window_mb: mb(table('readings') / SOCKETS),
      // A month of minutes (43,200) and of hours (720) of one socket, at the measured bytes per row.
      minute_mb_per_month: mb((table('readings_1m') / counts.readings_1m) * 43_200),
      hour_mb_per_month: round((((table('readings_1h') + table('readings_1h_device_t')) / counts.readings_1h) * 720) / 1e6, 3),
    };
    options.log(
      `  generated ${days} days for ${SOCKETS} sockets: minutes in ${round(minutesMs / 1000, 1)} s, ${readings} readings through the writer in ${round(readingsMs / 1000, 1)} s; retention deleted ${JSON.stringify(pruned)}`,
    );
    options.log(`  ${mb(size)} MB: ${tiers.map((t) => `${t.name} ${mb(t.bytes)}`).join(', ')}; rows ${JSON.stringify(counts)}`);
    const rows: Row[] = [
      {
        case: 'storage',
        scenario: `a year of history for ${SOCKETS} sockets (${days} days generated, retention run), default settings`,
        result:
          `${mb(size)} MB: raw readings (${rawDays} d) ${mb(table('readings'))} MB, per-minute rollups ${mb(table('readings_1m'))} MB, hourly ${mb(table('readings_1h') + table('readings_1h_device_t'))} MB; ` +
          `per socket: ${perSocketMonth.raw_window_mb} MB of raw readings, ${perSocketMonth.minute_mb_per_month} MB of minutes and ${perSocketMonth.hour_mb_per_month} MB of hours per month`,
        target: '< 2 GB',
        met: size < 2e9,
        data: {
          days,
          size,
          tiers,
          counts,
          readings,
          pruned,
          per_socket_month: perSocketMonth,
          generate_ms: { minutes: Math.round(minutesMs), readings: Math.round(readingsMs) },
        },
      },
    ];

    const gateway = new Gateway({ config, log: silentLogger });
    await gateway.start();
    try {
      rows.push(...(await checkRanges(gateway, now, days)));
      const url = `/api/devices/socket-2/energy?period=month&from=${now - days * DAY}&to=${now}`;
      const energy = (await gateway.parts.api.inject({ url })).json() as { total_kwh: number };
      const exact = (lastWh[1] - firstWh) / 1000;
      rows.push({
        case: 'storage',
        scenario: 'a year of history: energy per month adds up to the counter',
        result: `${energy.total_kwh} kWh over ${days} days; the counter moved ${round(exact, 3)} kWh`,
        target: 'exact (to the Wh)',
        met: Math.abs(energy.total_kwh - exact) < 0.0015,
        data: { url, total_kwh: energy.total_kwh, counter_kwh: exact },
      });
    } finally {
      await gateway.stop();
    }
    return rows;
  });
}
