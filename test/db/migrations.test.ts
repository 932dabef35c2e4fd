import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS_DIR, NewerDatabaseError, openDatabase } from '../../src/db/database.js';

/** A migrations folder holding the real migrations plus extra ones for the test. */
function migrationsWith(t: { after: (fn: () => void) => void }, extra: Record<string, string>): { dir: string; data: string } {
  const root = mkdtempSync(join(tmpdir(), 'canplug-migrations-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'migrations');
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) writeFileSync(join(dir, name), sql);
  const data = join(root, 'data');
  mkdirSync(data);
  return { dir, data };
}

const version = (db: Database.Database) => (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number }).v;

test('an upgrade backs the database up (WAL content included) and then applies the new migration', async (t) => {
  const { dir, data } = migrationsWith(t, {});
  const path = join(data, 'canplug.db');
  const old = openDatabase(path, { migrationsDir: dir });
  const oldVersion = version(old);
  old.prepare("INSERT INTO devices (key, kind, name, created_at) VALUES ('can:1', 'can', 'kitchen', 0)").run();
  // Left in the WAL, not yet in the main file: a plain file copy would miss it.
  const next = String(oldVersion + 1).padStart(3, '0');
  writeFileSync(join(dir, `${next}-add-note.sql`), 'ALTER TABLE devices ADD COLUMN note TEXT;');
  const upgraded = openDatabase(path, { migrationsDir: dir });
  t.after(() => upgraded.close());
  old.close();
  assert.equal(version(upgraded), oldVersion + 1);
  upgraded.prepare("UPDATE devices SET note = 'x'").run();

  const backups = readdirSync(data).filter((f) => f.endsWith('.bak'));
  assert.equal(backups.length, 1);
  assert.match(backups[0], new RegExp(`^canplug\\.db\\.v${oldVersion}-before-${next}-add-note\\.\\d{8}T\\d{6}Z\\.bak$`));
  const backup = new Database(join(data, backups[0]), { readonly: true });
  t.after(() => backup.close());
  assert.equal(version(backup), oldVersion, 'the backup has the schema from before');
  assert.deepEqual(backup.prepare('SELECT name FROM devices').all(), [{ name: 'kitchen' }], 'and the data that was still in the WAL');
});

test('a failing migration changes nothing (one transaction) and opening fails with the SQL error', async (t) => {
  const { dir, data } = migrationsWith(t, {});
  const path = join(data, 'canplug.db');
  const db = openDatabase(path, { migrationsDir: dir });
  const before = version(db);
  db.close();
  const next = String(before + 1).padStart(3, '0');
  writeFileSync(join(dir, `${next}-broken.sql`), 'CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1);');
  assert.throws(() => openDatabase(path, { migrationsDir: dir }), /no such table: no_such_table/);
  const check = new Database(path, { readonly: true });
  t.after(() => check.close());
  assert.equal(version(check), before);
  const halfDone = check.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'half_done'").get() as { n: number };
  assert.equal(halfDone.n, 0, 'the first statement was rolled back too');
});

test('a database from a newer canplug is refused with a clear message', async (t) => {
  const { dir, data } = migrationsWith(t, {});
  const path = join(data, 'canplug.db');
  const db = openDatabase(path, { migrationsDir: dir });
  db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('999-from-the-future');
  db.close();
  assert.throws(
    () => openDatabase(path, { migrationsDir: dir }),
    (error: Error) =>
      error instanceof NewerDatabaseError &&
      /has schema version 999 but this canplug knows up to \d+: it was written by a newer canplug; upgrade canplug or restore a backup/.test(
        error.message,
      ),
  );
});
