/**
 * Storage on an SD card (issue 16): bytes the daemon writes to disk, and what a year of history
 * takes and answers.
 *
 * Writes: the demo daemon (`node bin/canplug.js run`, simulated sockets at the default report period,
 * embedded broker) runs in real time, and its `/proc/<pid>/io` write_bytes is read at the start and
 * the end of a window, as issue 16 measured it. The scenarios run side by side (each process's
 * counter is its own; the sockets cost little CPU). write_bytes counts pages the process dirties,
 * so a page rewritten before the kernel wrote it back counts once: what the disk is asked to write.
 * A short window holds no WAL checkpoint (one every 1,000 WAL pages), so after the window the bench
 * checkpoints each database itself and adds what that wrote (its own write_bytes): the copy of the
 * window's pages into the database file, an upper bound of what the daemon's own checkpoints cost.
 *
 * A year: bench/lib/year-of-history.ts.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startDaemon, writeDaemonConfig, type Daemon } from '../../test/helpers/cli.js';
import { withTempDir, type BenchCase, type BenchOptions, type Row } from '../lib/bench-case.js';
import { round } from '../lib/stats.js';
import { yearOfHistory } from '../lib/year-of-history.js';

const DAY_S = 86_400;
const TEN = Array.from({ length: 10 }, (_, i) => i + 1);

interface Scenario {
  name: string;
  nodes: number[];
  database: Record<string, unknown>;
  /** Only in full runs. */
  full?: boolean;
  target?: { mbPerDay: number; what: string };
}

/** Settings as a Pi owner would choose them (docs/service.md, "Storage on an SD card"). */
const SCENARIOS: Scenario[] = [
  {
    name: '10 sockets, default settings (commit every 30 s, synchronous full, readings stored on change)',
    nodes: TEN,
    database: {},
    target: { mbPerDay: 300, what: '< 300 MB a day' },
  },
  {
    name: '10 sockets, most durable (commit every 250 ms as before, synchronous full, every reading stored)',
    nodes: TEN,
    database: { flush_interval_ms: 250, store: { every_reading: true } },
  },
  { name: '10 sockets, commit every 5 s', nodes: TEN, database: { flush_interval_ms: 5000 }, full: true },
  { name: '10 sockets, commit every 60 s', nodes: TEN, database: { flush_interval_ms: 60_000 }, full: true },
  { name: '10 sockets, synchronous normal', nodes: TEN, database: { synchronous: 'normal' }, full: true },
  { name: '10 sockets, every reading stored, commit every 30 s', nodes: TEN, database: { store: { every_reading: true } }, full: true },
  { name: 'a full bus: 63 sockets, default settings', nodes: Array.from({ length: 63 }, (_, i) => i + 1), database: {}, full: true },
];

const writeBytes = (pid: number | 'self') => Number(/^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Running {
  scenario: Scenario;
  daemon: Daemon;
  rest: string;
  path: string;
}

function rawRows(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM readings').pluck().get() as number;
  } finally {
    db.close();
  }
}

/** The commits' time on the event loop (the canplug_db_flush_seconds histogram): mean, and the bucket holding the 99th percentile. */
async function commitTimes(rest: string): Promise<{ commits: number; mean_ms: number; p99_under_ms: number | null }> {
  const text = await (await fetch(`${rest}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  const commits = value('canplug_db_flush_seconds_count');
  const buckets = [...text.matchAll(/^canplug_db_flush_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)].map((m) => ({
    le: Number(m[1]),
    n: Number(m[2]),
  }));
  const p99 = buckets.find((b) => b.n >= 0.99 * commits)?.le;
  return {
    commits,
    mean_ms: round((value('canplug_db_flush_seconds_sum') / commits) * 1000, 2),
    p99_under_ms: p99 === undefined || !Number.isFinite(p99) ? null : p99 * 1000,
  };
}

async function readingsWritten(rest: string): Promise<number> {
  const health = (await (await fetch(`${rest}/api/health`)).json()) as { database: { readings_written: number } };
  return health.database.readings_written;
}

async function start(dir: string, scenario: Scenario, index: number): Promise<Running> {
  const here = join(dir, `s${index}`);
  mkdirSync(here);
  const config = await writeDaemonConfig(here, {
    can: { sim: { nodes: scenario.nodes } },
    mqtt: { embedded_port: 0 },
    database: scenario.database,
  });
  const daemon = startDaemon(['run', '--config', config]);
  const banner = await daemon.waitForLog((l) => typeof l.rest === 'string', 60_000);
  return { scenario, daemon, rest: new URL(banner.rest as string).origin, path: join(here, 'canplug.db') };
}

async function measureWrites(options: BenchOptions): Promise<Row[]> {
  const scenarios = SCENARIOS.filter((s) => !s.full || !options.quick);
  const windowS = options.quick ? 60 : 300;
  const warmupS = 20;
  return withTempDir(async (dir) => {
    options.log(`  ${scenarios.length} daemons side by side; ${warmupS} s to settle, then a ${windowS} s window`);
    const running = await Promise.all(scenarios.map((s, i) => start(dir, s, i)));
    try {
      await sleep(warmupS * 1000);
      const before = await Promise.all(
        running.map(async (r) => ({
          bytes: writeBytes(r.daemon.child.pid!),
          readings: await readingsWritten(r.rest),
          rawRows: rawRows(r.path),
        })),
      );
      await sleep(windowS * 1000);
      const rows: Row[] = [];
      for (const [i, r] of running.entries()) {
        const bytes = writeBytes(r.daemon.child.pid!) - before[i].bytes;
        const readings = (await readingsWritten(r.rest)) - before[i].readings;
        const commits = await commitTimes(r.rest);
        const db = new Database(r.path);
        const own = writeBytes('self');
        const checkpoint = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
        const checkpointBytes = writeBytes('self') - own;
        const size = db.prepare('SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()').pluck().get() as number;
        const rawCount = db.prepare('SELECT count(*) FROM readings').pluck().get() as number;
        const rawBytes = db.prepare("SELECT sum(pgsize) FROM dbstat WHERE name = 'readings'").pluck().get() as number;
        db.close();
        // The raw tier's growth per socket: rows stored in the window at the bytes a row takes.
        const rawPerSocketDay = (((rawCount - before[i].rawRows) / windowS) * DAY_S * (rawBytes / rawCount)) / r.scenario.nodes.length;
        const total = bytes + checkpointBytes;
        const perDay = (total / windowS) * DAY_S;
        const mbPerDay = round(perDay / 1e6, 1);
        const data = {
          window_s: windowS,
          daemon_write_bytes: bytes,
          checkpoint_write_bytes: checkpointBytes,
          checkpoint,
          bytes_per_hour: Math.round(perDay / 24),
          mb_per_day: mbPerDay,
          readings,
          readings_per_s: round(readings / windowS, 1),
          bytes_per_reading: round(total / Math.max(1, readings), 1),
          commits,
          raw_rows: rawCount,
          raw_bytes_per_row: round(rawBytes / rawCount, 1),
          raw_mb_per_socket_day: round(rawPerSocketDay / 1e6, 2),
          database_bytes: size,
          settings: r.scenario.database,
          sockets: r.scenario.nodes.length,
        };
        options.log(`  ${r.scenario.name}: ${JSON.stringify(data)}`);
        rows.push({
          case: 'storage',
          scenario: `bytes written: ${r.scenario.name}`,
          result:
            `${mbPerDay} MB a day (${round(perDay / 24 / 1e6, 2)} MB an hour; ${round(bytes / 1e3)} kB by the daemon + ${round(checkpointBytes / 1e3)} kB checkpoint in ${windowS} s); ` +
            `${data.readings_per_s} readings/s, ${data.bytes_per_reading} bytes written per reading; raw readings take ${data.raw_mb_per_socket_day} MB per socket a day; ` +
            `a commit ${commits.mean_ms} ms on average (99 % under ${commits.p99_under_ms ?? '?'} ms)`,
          ...(r.scenario.target ? { target: r.scenario.target.what, met: mbPerDay < r.scenario.target.mbPerDay } : {}),
          data,
        });
      }
      return rows;
    } finally {
      for (const r of running) {
        r.daemon.child.kill('SIGTERM');
        await Promise.race([r.daemon.exited, sleep(10_000)]);
        r.daemon.kill();
      }
    }
  });
}

export const storage: BenchCase = {
  name: 'storage',
  description:
    'bytes written to disk per day by the demo daemon (/proc/<pid>/io), and a year of generated history: size per tier, every range answered without a gap',
  async run(options) {
    const writes = await measureWrites(options);
    const year = await yearOfHistory(options);
    return [...writes, ...year, ...perSocketMonth(writes, year[0])];
  },
};

/**
 * Database bytes per socket per month: the rollups' month (from the year: every setting stores the
 * same minutes and hours) plus a month of raw readings at each setting's measured rate.
 */
function perSocketMonth(writes: Row[], year: Row): Row[] {
  const rollups = year.data.per_socket_month as { minute_mb_per_month: number; hour_mb_per_month: number };
  const months = rollups.minute_mb_per_month + rollups.hour_mb_per_month;
  return writes
    .filter((w) => w.data.sockets === 10 && /default|most durable/.test(w.scenario))
    .map((w) => {
      const rawDay = w.data.raw_mb_per_socket_day as number;
      return {
        case: 'storage',
        scenario: `database per socket per month, ${w.scenario.replace(/^bytes written: 10 sockets, /, '')}`,
        result:
          `${round(months, 1)} MB a month of per-minute and hourly rollups, plus the raw readings kept: ` +
          `${round(rawDay * 7, 1)} MB for the default 7 days (${round(rawDay * 30, 1)} MB if a month is kept)`,
        data: {
          rollups_mb_per_month: round(months, 2),
          raw_mb_per_day: rawDay,
          raw_mb_7_days: round(rawDay * 7, 2),
          raw_mb_30_days: round(rawDay * 30, 2),
        },
      };
    });
}
