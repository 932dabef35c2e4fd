/** `canplug db backup` and `canplug db prune`: database care while the daemon keeps running. */
import Database from 'better-sqlite3';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { backupDatabase } from '../db/backup.js';
import { parseAge, PRUNE_TIERS, pruneDatabase, type PruneCutoffs } from '../db/prune.js';
import { retentionCutoffs, retentionDays } from '../db/retention.js';
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
            bar = new SingleBar(
              { format: 'backup [{bar}] {percentage}% | {value}/{total} pages | ETA {eta}s', stream: process.stdout },
              Presets.shades_classic,
            );
            bar.start(totalPages, 0);
          }
          bar?.update(donePages);
        },
      }).catch((error: Error) => {
        bar?.stop();
        throw new CliError(
          `backup failed: ${error.message}`,
          error.message.includes('already exists') || error.message.startsWith('no database') ? EXIT.usage : EXIT.failure,
        );
      });
      bar?.stop();
      process.stdout.write(`backed up ${source} to ${file}: ${mib(result.bytes)} in ${(result.ms / 1000).toFixed(1)} s\n`);
    });

  db.command('prune')
    .description('delete what has aged out of each tier (raw readings, rollups, events), in small batches (safe while the daemon runs)')
    .option(
      '--older-than <age>',
      "e.g. 90d, 12w, 36h: raw readings and events older than this (the rollups keep their history); default: each tier's retention from the config",
    )
    .option('--dry-run', 'count what would be deleted; delete nothing')
    .addHelpText(
      'after',
      `\nThe daemon also does this daily with database.retention_days (raw readings, default 7),\n` +
        `minute_retention_days (default 365), hour_retention_days and event_retention_days (0 keeps a tier).\n` +
        `Freed space is reused by new rows; the file does not shrink.\n${EXIT_CODES_HELP}`,
    )
    .action(async (opts: { olderThan?: string; dryRun?: boolean }, command: Command) => {
      const { config } = readConfig(configOption(command));
      const now = Date.now();
      let cutoffs: PruneCutoffs;
      if (opts.olderThan !== undefined) {
        let ageMs: number;
        try {
          ageMs = parseAge(opts.olderThan);
        } catch (error) {
          throw new CliError(`--older-than: ${(error as Error).message}`, EXIT.usage);
        }
        cutoffs = { readings: now - ageMs, events: now - ageMs };
      } else {
        cutoffs = retentionCutoffs(retentionDays(config.database), now);
        if (Object.keys(cutoffs).length === 0) {
          throw new CliError('nothing to prune by: pass --older-than (e.g. 90d) or set database.retention_days', EXIT.usage);
        }
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
        const started = performance.now();
        const result = await pruneDatabase(handle, { cutoffs, dryRun: opts.dryRun });
        const verb = opts.dryRun ? 'would delete' : 'deleted';
        const parts = PRUNE_TIERS.filter(({ tier }) => cutoffs[tier] !== undefined).map(
          ({ tier, what }) => `${plural(result[tier], what)} older than ${new Date(cutoffs[tier]!).toISOString()}`,
        );
        process.stdout.write(
          `${verb} ${parts.join(', ')}` +
            `${opts.dryRun ? '' : ` in ${plural(result.batches, 'batch', 'batches')}, ${((performance.now() - started) / 1000).toFixed(1)} s`}\n`,
        );
      } finally {
        handle.close();
      }
    });
}
