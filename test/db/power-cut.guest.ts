// One boot of the power-cut test, inside the user-mode-linux guest (test/db/power-cut-in-guest.test.ts
// boots it again and again; never run on a host). The database lives on the guest's block device
// (/dev/ubda, an ext4 image), not on the host's file system. Each boot first checks what the last
// power cut left and prints it; then runs the gateway and writes until the host kills the guest.
// Everything the host needs goes to the console as "power-cut <what> <json>" lines, which reach the
// host at once (pipes are synchronous on Linux), before anything a cut could lose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseConfig } from '../../src/config/config.js';
import { Gateway } from '../../src/daemon/gateway.js';
import { silentLogger } from '../../src/log.js';

/** The commit interval under test (from the host): short, so a run of seconds holds many commits. */
const COMMIT_MS = Number(process.env.CANPLUG_POWER_CUT_COMMIT_MS ?? 1000);
const SOCKETS = 6;

const say = (what: string, data: Record<string, unknown>) => console.log(`power-cut ${what} ${JSON.stringify(data)}`);

/** What is on the disk: integrity, the newest reading, and energy totals that must never have gone down. */
function inspect(path: string): Record<string, unknown> {
  // Read-write: opening replays (or discards) what the WAL holds, as the daemon's next start does.
  const db = new Database(path);
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    const newest = db.prepare('SELECT max(ts) FROM readings').pluck().get() as number | null;
    const readings = db.prepare('SELECT count(*) FROM readings').pluck().get() as number;
    // Each device's stored totals in time order, raw rows and per-minute maxima: never lower than before.
    const rawDown = db
      .prepare(
        'SELECT count(*) FROM (SELECT energy - lag(energy) OVER (PARTITION BY device_id ORDER BY ts) AS step FROM readings WHERE energy IS NOT NULL) WHERE step < 0',
      )
      .pluck()
      .get() as number;
    const minuteDown = db
      .prepare(
        'SELECT count(*) FROM (SELECT energy_max - lag(energy_max) OVER (PARTITION BY device_id ORDER BY t) AS step FROM readings_1m WHERE energy_n > 0) WHERE step < 0',
      )
      .pluck()
      .get() as number;
    // The saved total a restart carries on from is never below a stored reading.
    const savedBelowStored = db
      .prepare(
        `SELECT count(*) FROM devices d WHERE (d.energy_offset_wh + coalesce(d.last_energy_wh, 0)) / 1000.0 + 1e-9 <
           (SELECT max(energy) FROM readings r WHERE r.device_id = d.id)`,
      )
      .pluck()
      .get() as number;
    const minuteReadings = db.prepare('SELECT coalesce(sum(n), 0) FROM readings_1m').pluck().get() as number;
    return { integrity, newest, readings, minuteReadings, energyDown: rawDown + minuteDown, savedBelowStored };
  } finally {
    db.close();
  }
}

test('power cut: check what the last cut left, then write until the next one', { timeout: 10 * 60_000 }, async () => {
  const disk = process.env.CANPLUG_GUEST_DISK;
  assert.ok(disk, 'runs in the guest with a block device (test/db/power-cut-in-guest.test.ts)');
  const path = join(disk, 'canplug.db');
  if (existsSync(path)) say('check', inspect(path));
  if (process.env.CANPLUG_POWER_CUT_PHASE === 'check') return;

  const config = parseConfig({
    can: { sim: { nodes: Array.from({ length: SOCKETS }, (_, i) => i + 1), report_period_ms: 100 } },
    mqtt: { embedded_port: 0 },
    http: { port: 0 },
    udp: { port: 0 },
    // Default durability (synchronous full); every reading a raw row, so the newest one tells exactly what survived.
    database: { path, flush_interval_ms: COMMIT_MS, store: { every_reading: true } },
    log: { level: 'silent' },
  });
  const gateway = new Gateway({ config, log: silentLogger });
  let newest = 0;
  await gateway.start();
  gateway.parts.events.subscribe('test', { reading: (r) => void (newest = Math.max(newest, r.ts)) });
  // The energy counters move about 0.5 Wh a second each (the nodes restart at 0 every boot, like a house's power cut).
  for (const socket of gateway.parts.sim.sockets) socket.setLoad(2000);
  const flush = gateway.parts.writer.flush.bind(gateway.parts.writer);
  gateway.parts.writer.flush = () => {
    say('flushing', { newest, at: Date.now() });
    const ok = flush();
    say('committed', { ok, newest, at: Date.now() });
    return ok;
  };
  say('writing', { at: Date.now() });
  setInterval(() => say('alive', { newest, at: Date.now() }), 100);
  await new Promise(() => {}); // until the power goes
});
