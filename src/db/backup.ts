/**
 * Online backup of a live database (`canplug db backup`): SQLite's backup API, page by page, while
 * the daemon keeps writing. The copy is a consistent snapshot: the source connection holds one read
 * transaction for the whole copy. Without it, every commit by the daemon between two steps restarts
 * the backup from page 1, and under a steady stream of readings it never finishes (docs/service.md).
 * In WAL mode a reader blocks no writer, so the daemon is not held up.
 */
import Database from 'better-sqlite3';
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';

export interface BackupProgress {
  donePages: number;
  totalPages: number;
}

export interface BackupResult {
  pages: number;
  bytes: number;
  ms: number;
}

/** Pages copied per step: 4 MiB with the default 4 KiB pages; progress is reported after each. */
const PAGES_PER_STEP = 1024;

/**
 * Copies `source` to `dest` (written as `<dest>.partial`, renamed when complete, so an interrupted
 * backup never leaves a file that looks whole). Refuses to overwrite `dest` unless `overwrite`.
 */
export async function backupDatabase(
  source: string,
  dest: string,
  options: { overwrite?: boolean; onProgress?: (progress: BackupProgress) => void; pagesPerStep?: number } = {},
): Promise<BackupResult> {
  if (!existsSync(source)) throw new Error(`no database at ${source}`);
  if (existsSync(dest) && !options.overwrite) throw new Error(`${dest} already exists (use --force to replace it)`);
  const started = performance.now();
  const partial = `${dest}.partial`;
  rmSync(partial, { force: true });
  const db = new Database(source, { readonly: true, fileMustExist: true });
  let pages: number;
  try {
    db.pragma('busy_timeout = 5000');
    db.exec('BEGIN');
    // The snapshot starts at the first read, not at BEGIN.
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
    const result = await db.backup(partial, {
      progress: ({ totalPages, remainingPages }) => {
        options.onProgress?.({ donePages: totalPages - remainingPages, totalPages });
        return options.pagesPerStep ?? PAGES_PER_STEP;
      },
    });
    db.exec('COMMIT');
    pages = result.totalPages;
    options.onProgress?.({ donePages: pages, totalPages: pages });
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  } finally {
    db.close();
  }
  syncFile(partial);
  renameSync(partial, dest);
  return { pages, bytes: statSync(dest).size, ms: performance.now() - started };
}

/** Flushes a file to the storage device: a backup must survive a power cut right after it. */
export function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
