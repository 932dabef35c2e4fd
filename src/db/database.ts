/**
 * Opens the SQLite database (WAL) and applies the numbered migrations in migrations/,
 * each in its own transaction, forward only. A database written by a newer canplug is refused.
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';

export type Db = Database.Database;

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}-[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f.replace(/\.sql$/, ''), sql: readFileSync(join(dir, f), 'utf8') }));
}

export class NewerDatabaseError extends Error {}

export interface OpenOptions {
  log?: Logger;
  migrationsDir?: string;
  /** Copy the file aside before migrating an existing database (default true). */
  backupBeforeMigrate?: boolean;
}

export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const existed = path !== ':memory:' && existsSync(path);
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    migrate(db, path, existed, options);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function migrate(db: Db, path: string, existed: boolean, options: OpenOptions): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const migrations = listMigrations(options.migrationsDir);
  const known = migrations.at(-1)?.version ?? 0;
  const current = (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
  if (current > known) {
    throw new NewerDatabaseError(
      `database ${path} has schema version ${current} but this canplug knows up to ${known}: ` +
        'it was written by a newer canplug; upgrade canplug or restore a backup',
    );
  }
  const pending = migrations.filter((m) => m.version > current);
  if (pending.length === 0) return;
  if (existed && current > 0 && options.backupBeforeMigrate !== false) {
    const backup = `${path}.before-${pending[0].name}.bak`;
    db.pragma('wal_checkpoint(TRUNCATE)');
    copyFileSync(path, backup);
    options.log?.info({ backup }, 'database backed up before migrating');
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const migration of pending) {
    db.transaction(() => {
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
    })();
    options.log?.info({ migration: migration.name }, 'migration applied');
  }
}
