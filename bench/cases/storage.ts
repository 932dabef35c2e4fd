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
  { name: '10 sockets, default settings (commit every 30 s, synchronous full, readings stored on change)', nodes: TEN, database: {}, target: { mbPerDay: 300, what: '< 300 MB a day' } },
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
      const before = await Promise.all(running.map(async (r) => ({ bytes: writeBytes(r.daemon.child.pid!), readings: await readingsWritten(r.rest) })));
      await sleep(windowS * 1000);
      const rows: Row[] = [];
      for (const [i, r] of running.entries()) {
        const bytes = writeBytes(r.daemon.child.pid!) - before[i].bytes;
        const readings = (await readingsWritten(r.rest)) - before[i].readings;
        const db = new Database(r.path);
        const own = writeBytes('self');
        const checkpoint = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
        const checkpointBytes = writeBytes('self') - own;
        const size = db.prepare('SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()').pluck().get() as number;
        const rawRows = db.prepare('SELECT count(*) FROM readings').pluck().get() as number;
        db.close();
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
          raw_rows: rawRows,
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
            `${data.readings_per_s} readings/s, ${data.bytes_per_reading} bytes per reading`,
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
  description: 'bytes written to disk per day by the demo daemon (/proc/<pid>/io), and a year of generated history: size per tier, every range answered without a gap',
  async run(options) {
    const writes = await measureWrites(options);
    const year = await yearOfHistory(options);
    return [...writes, ...year];
  },
};
