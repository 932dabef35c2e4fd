/** `canplug db backup` and `canplug db prune`: database care while the daemon keeps running. */
import Database from 'better-sqlite3';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { backupDatabase } from '../db/backup.js';
import { parseAge, pruneDatabase } from '../db/prune.js';
import { DAY_MS } from '../db/retention.js';
import { CliError, configOption, EXIT, EXIT_CODES_HELP, readConfig, requireDataOwner } from './common.js';

/** Below this many pages (40 MiB with 4 KiB pages) a backup takes about a second: no bar. */
const PROGRESS_BAR_MIN_PAGES = 10_000;

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

export function addDbCommands(program: Command): void {
  const db = program.command('db').description('database care: online backup, pruning old readings');

  db.command('backup')
    .description('copy the live database to a file (SQLite online backup: the daemon keeps running)')
    .argument('<file>', 'where to write the copy')
    .option('-f, --force', 'replace the file if it exists')
    .addHelpText(
      'after',
      `\nThe copy is a consistent snapshot, written as <file>.partial and renamed when complete.\n` +
        `Restore: stop the daemon, copy the file over database.path, start it.\n` +
        `Shows a progress bar on a terminal for large databases.\n${EXIT_CODES_HELP}`,
    )
    .action(async (file: string, opts: { force?: boolean }, command: Command) => {
      const { config } = readConfig(configOption(command));
      const source = config.database.path;
      requireDataOwner(source, `db backup ${file}`);
      let bar: SingleBar | undefined;
      const result = await backupDatabase(source, file, {
        overwrite: opts.force,
        onProgress: ({ donePages, totalPages }) => {
          if (!bar && process.stdout.isTTY && totalPages >= PROGRESS_BAR_MIN_PAGES) {
            bar = new SingleBar({ format: 'backup [{bar}] {percentage}% | {value}/{total} pages | ETA {eta}s', stream: process.stdout }, Presets.shades_classic);
            bar.start(totalPages, 0);
          }
          bar?.update(donePages);
        },
      }).catch((error: Error) => {
        bar?.stop();
        throw new CliError(`backup failed: ${error.message}`, error.message.includes('already exists') || error.message.startsWith('no database') ? EXIT.usage : EXIT.failure);
      });
      bar?.stop();
      process.stdout.write(`backed up ${source} to ${file}: ${mib(result.bytes)} in ${(result.ms / 1000).toFixed(1)} s\n`);
    });

  db.command('prune')
    .description('delete readings and events older than an age, in small batches (safe while the daemon runs)')
    .option('--older-than <age>', 'e.g. 90d, 12w, 36h (default: database.retention_days from the config)')
    .option('--dry-run', 'count what would be deleted; delete nothing')
    .addHelpText(
      'after',
      `\nThe daemon also does this daily with database.retention_days (default 90; 0 keeps everything).\n` +
        `Freed space is reused by new rows; the file does not shrink.\n${EXIT_CODES_HELP}`,
    )
    .action(async (opts: { olderThan?: string; dryRun?: boolean }, command: Command) => {
      const { config } = readConfig(configOption(command));
      let ageMs: number;
      if (opts.olderThan !== undefined) {
        try {
          ageMs = parseAge(opts.olderThan);
        } catch (error) {
          throw new CliError(`--older-than: ${(error as Error).message}`, EXIT.usage);
        }
      } else if (config.database.retention_days > 0) {
        ageMs = config.database.retention_days * DAY_MS;
      } else {
        throw new CliError('nothing to prune by: pass --older-than (e.g. 90d) or set database.retention_days', EXIT.usage);
      }
      const path = config.database.path;
      requireDataOwner(path, 'db prune');
      let handle: Database.Database;
      try {
        handle = new Database(path, { fileMustExist: true });
      } catch (error) {
        throw new CliError(`cannot open the database ${path}: ${(error as Error).message}`, EXIT.usage);
      }
      try {
        handle.pragma('busy_timeout = 5000');
        const before = Date.now() - ageMs;
        const started = performance.now();
        const result = await pruneDatabase(handle, { before, dryRun: opts.dryRun });
        const verb = opts.dryRun ? 'would delete' : 'deleted';
        process.stdout.write(
          `${verb} ${plural(result.readings, 'reading')} and ${plural(result.events, 'event')} older than ${new Date(before).toISOString()}` +
            `${opts.dryRun ? '' : ` in ${plural(result.batches, 'batch', 'batches')}, ${((performance.now() - started) / 1000).toFixed(1)} s`}\n`,
        );
      } finally {
        handle.close();
      }
    });
}
