import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backupDatabase, type BackupProgress } from '../../src/db/backup.js';
import { count, seed, tempDatabase } from '../helpers/database.js';

test('an online backup completes while another connection keeps writing, and is a consistent snapshot', { timeout: 30_000 }, async (t) => {
  const { db, path, dir } = tempDatabase(t);
  const now = Date.now();
  seed(
    db,
    4,
    Array.from({ length: 20_000 }, (_, i) => now - i * 1000),
  ); // ~80k readings, several backup steps
  // The daemon's writer: a commit every few ms, also between the backup's steps.
  const insert = db.prepare('INSERT INTO readings (device_id, ts, kind, power) VALUES (1, ?, 4, 1)');
  let writes = 0;
  let ts = now;
  const writer = setInterval(() => {
    db.transaction(() => {
      for (let i = 0; i < 20; i++) insert.run(++ts); // one device: a reading per millisecond at most
    })();
    writes++;
  }, 1);
  t.after(() => clearInterval(writer));
  const before = count(db, 'readings');
  const progress: BackupProgress[] = [];
  const dest = join(dir, 'backup.db');
  const result = await backupDatabase(path, dest, { onProgress: (p) => progress.push(p), pagesPerStep: 100 });
  clearInterval(writer);
  const after = count(db, 'readings');

  assert.ok(writes > 0, 'the writer committed during the backup');
  assert.ok(progress.length >= 10, `progress reported per step (${progress.length})`);
  assert.deepEqual(progress.at(-1), { donePages: result.pages, totalPages: result.pages });
  assert.ok(
    progress.every((p, i) => i === 0 || p.donePages >= progress[i - 1].donePages),
    'no restart: progress only goes forward',
  );
  assert.ok(!existsSync(`${dest}.partial`));
  const copy = new Database(dest, { readonly: true });
  t.after(() => copy.close());
  assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
  const copied = (copy.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
  assert.ok(copied >= before && copied <= after, `the copy holds ${copied} readings: between ${before} and ${after}`);
  assert.equal(copied % 20, before % 20, 'whole transactions only');
});

test('a backup refuses to overwrite a file unless asked, and reports a missing database', async (t) => {
  const { db, path, dir } = tempDatabase(t);
  seed(db, 1, [Date.now()]);
  const dest = join(dir, 'copy.db');
  await backupDatabase(path, dest);
  await assert.rejects(backupDatabase(path, dest), /copy\.db already exists \(use --force to replace it\)/);
  await backupDatabase(path, dest, { overwrite: true });
  await assert.rejects(backupDatabase(join(dir, 'missing.db'), join(dir, 'x.db')), /no database at .*missing\.db/);
});
