/** A real SQLite database with the canplug schema and rows at chosen times, for database tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../src/db/database.js';

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
  const addReading = db.prepare('INSERT INTO readings (device_id, ts, power, relay) VALUES (?, ?, ?, 1)');
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
