/**
 * Opens the SQLite database (WAL) and applies the numbered migrations in migrations/,
 * each in its own transaction, forward only. A database written by a newer canplug is refused.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import { syncFile } from './backup.js';

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

/** SQLite's own default (better-sqlite3 raises it to 16 MB). */
const PAGE_CACHE_KIB = 2000;

export class NewerDatabaseError extends Error {}

export interface OpenOptions {
  log?: Logger;
  migrationsDir?: string;
  /** Back the database up beside itself before migrating an existing one (default true). */
  backupBeforeMigrate?: boolean;
  /**
   * SQLite's `synchronous` in WAL mode (docs/service.md, "Storage on an SD card"): `full` (default)
   * syncs the WAL at every commit, so a commit that returned survives a power cut; `normal` leaves
   * it to the kernel's writeback (about 30 s on Linux) and syncs only at checkpoints.
   */
  synchronous?: 'normal' | 'full';
}

export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const existed = path !== ':memory:' && existsSync(path);
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'full'}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    // better-sqlite3 builds SQLite with a 16 MB page cache, which fills as the readings grow and
    // stays in RSS. Writes touch only the tables' right edges and history reads the small rollup
    // tables, and the kernel's page cache holds the file anyway, so SQLite's stock 2 MB is enough.
    db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    migrate(db, path, existed, options);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** `<db>.v1-before-002-rules.<UTC time>.bak`: never overwrites an earlier backup. */
export function backupPath(path: string, current: number, next: string, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${path}.v${current}-before-${next}.${stamp}.bak`;
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
    const backup = backupPath(path, current, pending[0].name);
    // VACUUM INTO writes a consistent, compact snapshot through SQLite itself (WAL content
    // included, unlike a file copy) and is synchronous, as opening the database is.
    const started = performance.now();
    db.prepare('VACUUM INTO ?').run(backup);
    syncFile(backup);
    options.log?.info(
      { backup, from_version: current, ms: Math.round(performance.now() - started) },
      'database backed up before migrating',
    );
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
