import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startDaemon, writeDaemonConfig, type Daemon } from '../helpers/cli.js';
import { recordingClient, waitFor } from '../helpers/gateway.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';

const NODES = Array.from({ length: 20 }, (_, i) => i + 1);

interface Flood {
  daemon: Daemon;
  broker: TestBroker;
  messages: Map<string, string>;
  dbPath: string;
  /** Readings accepted by the writer before SIGTERM (written + pending; pending also counts a few events). */
  accepted: { written: number; pending: number };
}

/** A daemon on an external broker, 20 sockets reporting every 100 ms, writes held back (flush every 10 s). */
async function startFlood(t: { after: (fn: () => unknown) => void }): Promise<Flood> {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-shutdown-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startBroker();
  t.after(() => broker.close());
  const config = await writeDaemonConfig(dir, {
    can: { sim: { nodes: NODES, report_period_ms: 100 } },
    mqtt: { url: broker.url },
    database: { flush_interval_ms: 10000 },
  });
  const daemon = startDaemon(['run', '--config', config]);
  t.after(() => daemon.kill());
  const banner = await daemon.waitForLog((l) => typeof l.rest === 'string', 60_000);
  const rest = new URL(banner.rest as string).origin;
  const recorder = await recordingClient(broker.url, ['canplug/#']);
  t.after(() => recorder.client.endAsync());
  await waitFor(
    () => NODES.every((n) => recorder.messages.get(`canplug/socket-${n}/availability`) === 'online'),
    30_000,
    'all sockets online',
  );
  // Let readings pile up in the writer: the shutdown must write them.
  const health = await waitFor(
    async () => {
      const body = (await (await fetch(`${rest}/api/health`)).json()) as { database: { pending: number; readings_written: number } };
      return body.database.pending > 300 && body.database;
    },
    30_000,
    '300 readings pending',
  );
  return {
    daemon,
    broker,
    messages: recorder.messages,
    dbPath: join(dir, 'canplug.db'),
    accepted: { written: health.readings_written, pending: health.pending },
  };
}

function countRows(path: string): { readings: number; events: number } {
  const db = new Database(path, { readonly: true });
  try {
    // Every reading is counted in its minute's rollup (raw rows are stored on change).
    const readings = db.prepare('SELECT coalesce(sum(n), 0) FROM readings_1m').pluck().get() as number;
    const events = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    return { readings, events };
  } finally {
    db.close();
  }
}

test('SIGTERM during a flood: every accepted reading is in SQLite, offline is published, exit 0 within 5 s', async (t) => {
  const flood = await startFlood(t);
  const sentAt = Date.now();
  flood.daemon.child.kill('SIGTERM');
  const exit = await flood.daemon.exited;
  const ms = Date.now() - sentAt;
  assert.equal(exit.code, 0, flood.daemon.stderr());
  assert.ok(ms < 5000, `exited in ${ms} ms`);
  t.diagnostic(`exited ${ms} ms after SIGTERM with ${flood.accepted.pending} rows pending`);

  const rows = countRows(flood.dbPath);
  const { written, pending } = flood.accepted;
  assert.ok(
    rows.readings + rows.events >= written + pending,
    `rows ${JSON.stringify(rows)} hold the ${written} written + ${pending} pending before SIGTERM`,
  );
  const stopped = await flood.daemon.waitForLog((l) => l.msg === 'canplug stopped');
  assert.equal(stopped.readings_written, rows.readings, 'every reading the daemon counted as written is in the file');
  assert.equal(stopped.pending, 0);

  await waitFor(() => flood.messages.get('canplug/bridge/state') === 'offline', 2000, 'bridge offline');
  for (const n of NODES) assert.equal(flood.messages.get(`canplug/socket-${n}/availability`), 'offline', `socket-${n} offline`);
});

test('SIGTERM with a hung MQTT broker: the daemon gives up on it and exits within 5 s, no accepted reading lost', async (t) => {
  const flood = await startFlood(t);
  flood.broker.pause();
  const sentAt = Date.now();
  flood.daemon.child.kill('SIGTERM');
  const exit = await flood.daemon.exited;
  const ms = Date.now() - sentAt;
  flood.broker.resume();
  assert.equal(exit.code, 0, 'a broker that stopped answering does not make the shutdown fail');
  assert.ok(ms < 5000, `exited ${ms} ms after SIGTERM`);
  const rows = countRows(flood.dbPath);
  const { written, pending } = flood.accepted;
  assert.ok(
    rows.readings + rows.events >= written + pending,
    `rows ${JSON.stringify(rows)} hold the ${written} written + ${pending} pending before SIGTERM`,
  );
});
