import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EXIT } from '../../src/cli/common.js';
import { runCli } from '../helpers/cli.js';
import { count, DAY, seed, tempDatabase } from '../helpers/database.js';

function configFor(dir: string, path: string, extra = ''): string {
  const config = join(dir, 'canplug.yaml');
  writeFileSync(config, `database:\n  path: ${path}\n${extra}`);
  return config;
}

test('db backup writes a consistent copy, refuses to overwrite it without --force', async (t) => {
  const { db, path, dir } = tempDatabase(t);
  seed(db, 2, [Date.now() - 1000, Date.now()]);
  const config = configFor(dir, path);
  const dest = join(dir, 'backup.db');

  const first = await runCli(['--config', config, 'db', 'backup', dest]);
  assert.equal(first.code, EXIT.ok, first.stderr);
  assert.match(first.stdout, new RegExp(`^backed up ${path} to ${dest}: \\d+\\.\\d MiB in \\d+\\.\\d s\\n$`));
  const copy = new Database(dest, { readonly: true });
  assert.equal((copy.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n, 4);
  copy.close();

  const again = await runCli(['--config', config, 'db', 'backup', dest]);
  assert.equal(again.code, EXIT.usage);
  assert.match(again.stderr, /backup\.db already exists \(use --force to replace it\)/);
  const forced = await runCli(['--config', config, 'db', 'backup', '--force', dest]);
  assert.equal(forced.code, EXIT.ok, forced.stderr);
});

test('db prune deletes old readings and events (dry run first), and refuses an age it cannot read', async (t) => {
  const { db, path, dir } = tempDatabase(t);
  const now = Date.now();
  seed(db, 2, [now - 200 * DAY, now - 100 * DAY, now - DAY]);
  db.close();
  const config = configFor(dir, path);

  const dry = await runCli(['--config', config, 'db', 'prune', '--older-than', '30d', '--dry-run']);
  assert.equal(dry.code, EXIT.ok, dry.stderr);
  assert.match(dry.stdout, /^would delete 4 raw readings older than \d{4}-\d\d-\d\dT[^,]*, 2 events older than \d{4}-\d\d-\d\dT/);

  const bad = await runCli(['--config', config, 'db', 'prune', '--older-than', 'a while']);
  assert.equal(bad.code, EXIT.usage);
  assert.match(bad.stderr, /--older-than: "a while" is not an age/);

  // No --older-than: each tier's retention decides (raw readings and events 150 days here, minutes 365, hours for ever).
  writeFileSync(config, `database:\n  path: ${path}\n  retention_days: 150\n  event_retention_days: 150\n`);
  const byConfig = await runCli(['--config', config, 'db', 'prune']);
  assert.equal(byConfig.code, EXIT.ok, byConfig.stderr);
  assert.match(
    byConfig.stdout,
    /^deleted 2 raw readings older than [^,]*, 0 per-minute rollups older than [^,]*, 1 event older than .* in 2 batches/,
  );

  const check = new Database(path, { readonly: true });
  t.after(() => check.close());
  assert.equal(count(check, 'readings'), 4);
  assert.equal(count(check, 'events'), 2);
});

test("token rotate writes a new 0600 token beside the database and prints it; as root it will not touch the service user's files", async (t) => {
  const { db, path, dir } = tempDatabase(t);
  db.close();
  const config = configFor(dir, path);
  const first = await runCli(['--config', config, 'token', 'rotate']);
  assert.equal(first.code, EXIT.ok, first.stderr);
  const tokenFile = join(dir, 'token');
  const token = readFileSync(tokenFile, 'utf8').trim();
  assert.equal(first.stdout, `new API token written to ${tokenFile}:\n${token}\n`);
  assert.ok(token.length >= 32);
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600);

  const second = await runCli(['--config', config, 'token', 'rotate', '--quiet']);
  assert.equal(second.code, EXIT.ok);
  const rotated = readFileSync(tokenFile, 'utf8').trim();
  assert.equal(second.stdout, `${rotated}\n`);
  assert.notEqual(rotated, token, 'a new token');

  if (process.getuid?.() !== 0) return t.diagnostic('not root: the ownership refusal is not exercised');
  chownSync(dir, 65534, 65534); // the data directory of a service user (nobody)
  const asRoot = await runCli(['--config', config, 'token', 'rotate']);
  assert.equal(asRoot.code, EXIT.usage);
  assert.match(asRoot.stderr, /belongs to nobody; run this as that user .*\n {2}sudo -u nobody canplug token rotate\n/);
  assert.equal(readFileSync(tokenFile, 'utf8').trim(), rotated, 'the token is unchanged');
  const backup = await runCli(['--config', config, 'db', 'backup', join(dir, 'b.db')]);
  assert.equal(backup.code, EXIT.usage);
  assert.ok(!existsSync(`${path}-shm`), 'no root-owned database files left behind');
});
