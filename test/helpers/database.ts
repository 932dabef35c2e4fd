/** A real SQLite database with the canplug schema and rows at chosen times, for database tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../src/db/database.js';
import { SqliteDeviceStore } from '../../src/db/devices.js';
import { BatchWriter } from '../../src/db/writer.js';
import { silentLogger } from '../../src/log.js';

export const DAY = 86_400_000;

export function tempDatabase(t: { after: (fn: () => void) => void }): { db: Db; path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-db-'));
  const path = join(dir, 'canplug.db');
  const db = openDatabase(path);
  t.after(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { db, path, dir };
}

/** Adds devices 1..n and `perDevice` readings each at the given times, plus one event per time. */
export function seed(db: Db, devices: number, times: number[]): void {
  const addDevice = db.prepare("INSERT INTO devices (id, key, kind, name, created_at) VALUES (?, ?, 'can', ?, 0)");
  const addReading = db.prepare('INSERT INTO readings (device_id, ts, kind, power, relay) VALUES (?, ?, 4, ?, 1)'); // kind 4: a power frame
  const addEvent = db.prepare("INSERT INTO events (ts, device_id, type) VALUES (?, ?, 'test')");
  db.transaction(() => {
    for (let d = 1; d <= devices; d++) {
      addDevice.run(d, `can:${d}`, `socket-${d}`);
      for (const ts of times) addReading.run(d, ts, 100);
    }
    for (const ts of times) addEvent.run(ts, 1);
  })();
}

export function count(db: Db, table: 'readings' | 'readings_1m' | 'readings_1h' | 'events', where = '1'): number {
  return (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).get() as { n: number }).n;
}

/**
 * A day of believable readings for sockets `names` (as can:1, can:2, ...) written through the
 * gateway's own batch writer (rollups included), ending a minute ago, so a gateway started on this
 * database has history to chart. Deterministic: the same shapes on every run.
 */
export function seedHistory(path: string, names: string[], hours = 24, stepMs = 60_000): void {
  const db = openDatabase(path);
  try {
    const devices = new SqliteDeviceStore(db);
    const writer = new BatchWriter(db, { flushIntervalMs: 60_000, batchSize: 100_000, log: silentLogger });
    const end = Date.now() - 60_000;
    names.forEach((name, i) => {
      const { id } = devices.insert(`can:${i + 1}`, 'can', name);
      for (let ts = end - hours * 3_600_000; ts <= end; ts += stepMs) {
        const hour = ts / 3_600_000 + i * 3;
        const base = [60, 120, 35][i % 3];
        const power = base * (1 + 0.5 * Math.sin(hour / 3)) + (Math.floor(ts / 1_800_000) % 4 === 0 ? 400 * (i + 1) : 0);
        const voltage = 230 + 3 * Math.sin(hour);
        writer.addReading({
          deviceId: id,
          ts,
          power,
          voltage,
          current: power / voltage,
          humidity: 55 + 15 * Math.sin(hour / 4),
          temperature: 21 + 2 * Math.cos(hour / 5),
          relay: true,
        });
      }
    });
    writer.flush();
  } finally {
    db.close();
  }
}
