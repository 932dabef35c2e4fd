// The release as a Pi owner gets it (deploy/README.md): the artifact `npm pack` makes, installed
// by deploy/install.sh as root into a temporary prefix with production dependencies only, in a
// throwaway root (test/helpers/throwaway-root.ts); the service started as its unit starts it,
// answering with the dashboard and a healthy status; then uninstalled. And an upgrade from the
// previous release (test/install/previous-release/README.md): its data, token and config kept,
// the migrations applied, a backup taken. Slow (npm ci builds the native addons): `npm run test:install`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { listMigrations } from '../../src/db/database.js';
import { distIsFresh } from '../../bin/source-hash.js';
import { cleanEnv } from '../helpers/cli.js';
import { mosquittoTest } from '../helpers/mosquitto.js';
import { startInstalledService } from '../helpers/installed-service.js';
import { makeThrowawayRoot, throwawayRootTest, type ThrowawayRoot } from '../helpers/throwaway-root.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PREVIOUS = join(REPO, 'test/install/previous-release');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const NEWEST_SCHEMA = listMigrations().at(-1)!.version;
// install.sh takes the first node on PATH for the unit: the one running these tests.
const ENV = { ...cleanEnv(), PATH: `${dirname(process.execPath)}:${process.env.PATH}` };
const OPTIONS = { ...mosquittoTest(), ...throwawayRootTest(), timeout: 30 * 60_000 };
const INSTALL_TIMEOUT_MS = 20 * 60_000;

/** The release artifact, made as a release is made: `npm pack` (which builds dist/ and the dashboard first). */
function packRelease(t: { after: (fn: () => void) => void }): string {
  const out = mkdtempSync(join(tmpdir(), 'canplug-artifact-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const pack = spawnSync('npm', ['pack', '--pack-destination', out], { cwd: REPO, env: ENV, encoding: 'utf8' });
  assert.equal(pack.status, 0, `npm pack failed:\n${pack.stdout}\n${pack.stderr}`);
  const artifact = join(out, `canplug-${VERSION}.tgz`);
  assert.ok(existsSync(artifact), `npm pack made ${readdirSync(out).join(', ')}, not canplug-${VERSION}.tgz`);
  return artifact;
}

const stat = async (root: ThrowawayRoot, path: string) => (await root.run(['stat', '-c', '%U:%G %a', path])).stdout.trim();

async function api(base: string, path: string, init: RequestInit = {}) {
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) as unknown };
}

/** The dashboard at / (its index and the script it loads) and a healthy status of this version. */
async function assertServes(base: string) {
  const index = await api(base, '/');
  assert.equal(index.status, 200, index.text);
  assert.match(index.type, /^text\/html/);
  assert.match(index.text, /<title>canplug<\/title>/);
  const script = /<script type="module" crossorigin src="\.\/(assets\/index-[\w-]+\.js)"/.exec(index.text);
  assert.ok(script, 'the index loads the dashboard script');
  const asset = await api(base, `/${script[1]}`);
  assert.equal(asset.status, 200);
  assert.match(asset.type, /javascript/);

  const health = await api(base, '/api/health');
  assert.equal(health.status, 200, health.text);
  const report = health.json() as {
    status: string;
    version: string;
    can: { up: boolean };
    mqtt: { connected: boolean };
    database: { ok: boolean };
  };
  assert.equal(report.status, 'ok', health.text);
  assert.equal(report.version, VERSION);
}

/** A change through the REST API: refused without the token, done with it. */
async function assertTokenWorks(base: string, token: string) {
  const body = JSON.stringify({ on: false });
  const headers = { 'content-type': 'application/json' };
  const refused = await api(base, '/api/devices/socket-1/relay', { method: 'PUT', headers, body });
  assert.equal(refused.status, 401, refused.text);
  const done = await api(base, '/api/devices/socket-1/relay', {
    method: 'PUT',
    headers: { ...headers, authorization: `Bearer ${token}` },
    body,
  });
  assert.equal(done.status, 200, done.text);
}

test(
  'a fresh install from the release artifact runs as its unit starts it, serves the dashboard and a healthy status, and uninstalls cleanly',
  OPTIONS,
  async (t) => {
    const artifact = packRelease(t);
    const root = makeThrowawayRoot();
    t.after(() => root.close());
    const prefix = join(root.dir, 'prefix');
    // As deploy/README.md does it with a downloaded release: the artifact's own install.sh.
    const unpacked = join(root.dir, 'unpacked');
    mkdirSync(unpacked);
    assert.equal(spawnSync('tar', ['-xzf', artifact, '-C', unpacked]).status, 0);

    const started = performance.now();
    const install = await root.run(
      ['sh', join(unpacked, 'package/deploy/install.sh'), artifact, '--prefix', prefix, '--bitrate', '250000'],
      {
        env: ENV,
        timeoutMs: INSTALL_TIMEOUT_MS,
      },
    );
    t.diagnostic(
      `metric install.sh from the artifact: ${Math.round((performance.now() - started) / 1000)} s (npm ci --omit=dev, native addons built here)`,
    );
    assert.equal(install.code, 0, `${install.stdout}\n${install.stderr}`);
    assert.match(install.stdout, new RegExp(`Installing canplug ${VERSION.replaceAll('.', '\\.')} into ${prefix}`));
    assert.match(install.stdout, /systemd is not running here .*installed but not enabled or started/);

    const app = join(prefix, 'lib/canplug');
    assert.ok(!existsSync(join(app, 'node_modules/vite')) && !existsSync(join(app, 'node_modules/typescript')), 'no dev dependencies');
    assert.ok(existsSync(join(app, 'dashboard/dist/index.html')), 'the dashboard came built in the artifact');
    assert.ok(distIsFresh(app), 'the compiled dist/ matches the sources shipped with it, so the service runs it');
    const version = spawnSync(join(prefix, 'bin/canplug'), ['--version'], { encoding: 'utf8', env: ENV });
    assert.equal(version.stdout, `${VERSION}\n`, version.stderr);

    // What the real install did as root: the service user, ownership, the config and can0's file.
    assert.equal((await root.run(['id', '-un', 'canplug'])).stdout, 'canplug\n');
    assert.equal(await stat(root, '/var/lib/canplug'), 'canplug:canplug 750');
    assert.equal(await stat(root, '/etc/canplug/canplug.yaml'), 'root:canplug 640');
    assert.match(readFileSync(root.hostPath('/etc/systemd/network/80-canplug-can0.network'), 'utf8'), /^BitRate=250000$/m);
    const check = await root.run([join(prefix, 'bin/canplug'), 'config', 'check'], { env: ENV });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /\/etc\/canplug\/canplug\.yaml: OK\n {2}can: can0 at 250000 bit\/s/);

    const unitPath = join(prefix, 'lib/systemd/system/canplug.service');
    if (spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0) {
      const verify = spawnSync('systemd-analyze', ['verify', unitPath], { encoding: 'utf8' });
      assert.equal(verify.status, 0, verify.stderr);
      assert.equal(verify.stderr, '', 'the installed unit verifies without warnings');
    } else if (process.env.CANPLUG_REQUIRE_INSTALL === '1') {
      assert.fail('systemd-analyze is not installed (Debian package systemd)');
    }

    const service = await startInstalledService(root, unitPath, t);
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${service.child.pid}/status`, 'utf8'))![1];
    assert.equal(uid, (await root.run(['id', '-u', 'canplug'])).stdout.trim(), 'the service runs as the canplug user');
    await assertServes(service.base);
    await assertTokenWorks(service.base, readFileSync(root.hostPath('/var/lib/canplug/token'), 'utf8').trim());
    assert.equal(await service.stop(), 0, 'a clean stop');
    assert.ok(service.notify.with('STOPPING', '1').length > 0);

    const removed = await root.run(['sh', join(REPO, 'deploy/install.sh'), '--prefix', prefix, '--uninstall'], { env: ENV });
    assert.equal(removed.code, 0, removed.stderr);
    for (const gone of ['lib/canplug', 'bin/canplug', 'lib/systemd/system/canplug.service', 'lib/sysusers.d/canplug.conf']) {
      assert.ok(!existsSync(join(prefix, gone)), `${gone} removed`);
    }
    for (const kept of ['/etc/canplug/canplug.yaml', '/var/lib/canplug/canplug.db', '/var/lib/canplug/token']) {
      assert.ok(existsSync(root.hostPath(kept)), `${kept} kept`);
    }
  },
);

interface PreviousData {
  readings: Map<string, { count: number; from: number; to: number }>;
  events: number;
  eventsTo: number;
  rules: string[];
}

/** What the previous release's database holds, read from a copy (opening the fixture would touch it). */
function previousData(dir: string): PreviousData {
  const copy = join(dir, 'previous.db');
  copyFileSync(join(PREVIOUS, 'canplug.db'), copy);
  const db = new Database(copy, { readonly: true });
  try {
    const rows = db
      .prepare(
        'SELECT d.name, count(*) AS count, min(r.ts) AS "from", max(r.ts) AS "to" FROM readings r JOIN devices d ON d.id = r.device_id GROUP BY d.name',
      )
      .all() as { name: string; count: number; from: number; to: number }[];
    const events = db.prepare('SELECT count(*) AS n, max(ts) AS last FROM events').get() as { n: number; last: number };
    const rules = (db.prepare('SELECT name FROM rules ORDER BY position').all() as { name: string }[]).map((r) => r.name);
    return { readings: new Map(rows.map((r) => [r.name, r])), events: events.n, eventsTo: events.last, rules };
  } finally {
    db.close();
  }
}

test(
  'an upgrade from the previous release keeps its data, token and config, applies the migrations after a backup, and serves the dashboard',
  OPTIONS,
  async (t) => {
    const root = makeThrowawayRoot();
    t.after(() => root.close());
    const prefix = join(root.dir, 'prefix');
    const before = previousData(root.dir);
    assert.ok(before.readings.size > 0 && before.events > 0 && before.rules.length > 0, 'the fixture has data to keep');

    // What the previous release's install left: its service user (same sysusers line), its config,
    // its data owned by that user, and its program (here a stand-in file, to see it replaced).
    mkdirSync(root.hostPath('/etc/canplug'), { recursive: true });
    copyFileSync(join(PREVIOUS, 'canplug.yaml'), root.hostPath('/etc/canplug/canplug.yaml'));
    mkdirSync(root.hostPath('/var/lib/canplug'), { recursive: true });
    for (const file of ['canplug.db', 'token']) copyFileSync(join(PREVIOUS, file), root.hostPath(`/var/lib/canplug/${file}`));
    mkdirSync(join(prefix, 'lib/canplug'), { recursive: true });
    writeFileSync(join(prefix, 'lib/canplug/from-the-previous-release'), '');
    const previousInstall = [
      `systemd-sysusers ${join(REPO, 'deploy/canplug.sysusers')}`,
      'chown -R canplug:canplug /var/lib/canplug && chmod 750 /var/lib/canplug && chmod 600 /var/lib/canplug/token',
      'chgrp canplug /etc/canplug/canplug.yaml && chmod 640 /etc/canplug/canplug.yaml',
    ].join(' && ');
    const setUp = await root.run(['sh', '-c', previousInstall]);
    assert.equal(setUp.code, 0, setUp.stderr);

    // As deploy/README.md upgrades a checkout: `npm ci` there (done: this checkout), then install.sh.
    const started = performance.now();
    const install = await root.run(['sh', join(REPO, 'deploy/install.sh'), '--prefix', prefix, '--no-can'], {
      env: ENV,
      timeoutMs: INSTALL_TIMEOUT_MS,
    });
    t.diagnostic(`metric install.sh from the checkout (upgrade): ${Math.round((performance.now() - started) / 1000)} s`);
    assert.equal(install.code, 0, `${install.stdout}\n${install.stderr}`);
    assert.match(install.stdout, /config {8}\/etc\/canplug\/canplug\.yaml \(kept as it was\)/);
    assert.ok(!existsSync(join(prefix, 'lib/canplug/from-the-previous-release')), 'the previous program is replaced whole');

    const service = await startInstalledService(root, join(prefix, 'lib/systemd/system/canplug.service'), t);
    await assertServes(service.base);
    const token = readFileSync(join(PREVIOUS, 'token'), 'utf8').trim();
    await assertTokenWorks(service.base, token);

    // The previous release's data, as the API shows it.
    const auth = { authorization: `Bearer ${token}` };
    const rules = (await api(service.base, '/api/rules', { headers: auth })).json() as { name: string }[];
    assert.deepEqual(
      rules.map((r) => r.name),
      before.rules,
    );
    const events = (await api(service.base, `/api/events?to=${before.eventsTo + 1}&limit=1000`, { headers: auth })).json() as {
      events: unknown[];
    };
    assert.equal(events.events.length, before.events, 'every event of the previous release');
    for (const [device, kept] of before.readings) {
      const history = await api(service.base, `/api/devices/${device}/readings?from=${kept.from}&to=${kept.to + 1}&bucket=1m`, {
        headers: auth,
      });
      assert.equal(history.status, 200, history.text);
      const buckets = (history.json() as { buckets: { count: number }[] }).buckets;
      assert.equal(
        buckets.reduce((sum, b) => sum + b.count, 0),
        kept.count,
        `${device}: every reading of the previous release`,
      );
    }
    assert.equal(await service.stop(), 0, 'a clean stop');

    assert.equal(
      readFileSync(root.hostPath('/var/lib/canplug/token'), 'utf8'),
      readFileSync(join(PREVIOUS, 'token'), 'utf8'),
      'token file unchanged',
    );
    assert.equal(
      readFileSync(root.hostPath('/etc/canplug/canplug.yaml'), 'utf8'),
      readFileSync(join(PREVIOUS, 'canplug.yaml'), 'utf8'),
      'config unchanged',
    );
    const data = root.hostPath('/var/lib/canplug');
    const db = new Database(join(data, 'canplug.db'), { readonly: true });
    const applied = (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map(
      (r) => r.version,
    );
    db.close();
    assert.deepEqual(
      applied,
      listMigrations().map((m) => m.version),
      `migrated to schema ${NEWEST_SCHEMA}`,
    );

    const backups = readdirSync(data).filter((f) => /^canplug\.db\.v2-before-003-[\w-]+\.\d{8}T\d{6}Z\.bak$/.test(f));
    assert.equal(backups.length, 1, `one backup before migrating, among ${readdirSync(data).join(', ')}`);
    assert.equal(
      await stat(root, `/var/lib/canplug/${backups[0]}`),
      'canplug:canplug 640',
      'the backup belongs to the service user, as the database does',
    );
    const backup = new Database(join(data, backups[0]), { readonly: true });
    const backedUp = backup
      .prepare('SELECT (SELECT max(version) FROM schema_migrations) AS schema, (SELECT count(*) FROM readings) AS readings')
      .get();
    backup.close();
    const readings = [...before.readings.values()].reduce((sum, r) => sum + r.count, 0);
    assert.deepEqual(backedUp, { schema: 2, readings }, "the backup is the previous release's database");
  },
);
