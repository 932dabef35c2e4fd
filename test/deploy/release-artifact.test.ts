// What the release artifact (`npm pack`) ships, from `npm pack --dry-run`: the built program and
// dashboard, the migrations, the deploy files and the lockfile; no tests, benchmarks, data or
// secrets. And the release's metadata agrees with itself: a CHANGELOG entry for the version,
// engines that deploy/install.sh can read. CI prints the same listing (.ci/run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listMigrations } from '../../src/db/database.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string; engines: { node: string }; files: string[] };

function packList(): string[] {
  // --ignore-scripts: list the tree as it is, without rebuilding dist/ and the dashboard under other tests.
  const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const [packed] = JSON.parse(result.stdout) as { name: string; version: string; files: { path: string }[] }[];
  assert.equal(packed.version, pkg.version);
  return packed.files.map((f) => f.path);
}

test('the artifact carries the built program and dashboard, the migrations, the deploy files and the lockfile', () => {
  const files = packList();
  const required = [
    'package.json',
    'npm-shrinkwrap.json',
    'CHANGELOG.md',
    'README.md',
    'bin/canplug.js',
    'bin/source-hash.js',
    'dist/build.json',
    'dist/cli.js',
    'src/cli.ts',
    'dashboard/dist/index.html',
    'deploy/install.sh',
    'deploy/canplug.service',
    'deploy/canplug.sysusers',
    'deploy/canplug.yaml',
    'deploy/80-canplug-can0.network',
    'deploy/README.md',
    'scripts/build-dist.mjs',
    'scripts/build-dashboard.mjs',
    ...listMigrations().map((m) => `migrations/${m.name}.sql`),
  ];
  const missing = required.filter((f) => !files.includes(f));
  assert.deepEqual(missing, [], 'dist/ and dashboard/dist/ are built by npm ci (prepare) before packing');
  assert.ok(files.some((f) => /^dashboard\/dist\/assets\/index-[\w-]+\.js$/.test(f)), 'the dashboard script');
  // Every compiled module is there for every source (the artifact runs dist/, never the sources through tsx).
  const sources = files.filter((f) => f.startsWith('src/') && f.endsWith('.ts'));
  const compiledMissing = sources.map((f) => f.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js')).filter((f) => !files.includes(f));
  assert.deepEqual(compiledMissing, []);
});

test('the artifact ships no tests, benchmarks, dashboard sources, data or secrets', () => {
  const files = packList();
  const forbidden = [
    /^test\//,
    /^bench\//,
    /^\.ci\//,
    /^node_modules\//,
    /^data\//,
    /^test-artifacts\//,
    /^dashboard\/(?!dist\/)/,
    /^firmware\/(?!canplug\.dbc$)/,
    /^scripts\/(?!build-dist\.mjs$|build-dashboard\.mjs$)/,
    /(^|\/)token$/,
    /\.(db|db-wal|db-shm|bak|sqlite|pem|key|crt|env|log|tgz)$/,
    /(^|\/)\.env/,
    /(^|\/)\.npmrc$/,
    /^package-lock\.json$/,
  ];
  const shipped = files.filter((f) => forbidden.some((pattern) => pattern.test(f)));
  assert.deepEqual(shipped, []);
});

test('the version has a CHANGELOG entry, and engines are ranges deploy/install.sh reads, Node 24 among them', () => {
  const changelog = readFileSync(join(REPO, 'CHANGELOG.md'), 'utf8');
  assert.match(changelog, new RegExp(`^## ${pkg.version.replaceAll('.', '\\.')} \\(\\d{4}-\\d{2}-\\d{2}\\)$`, 'm'), `a "## ${pkg.version} (date)" entry`);
  const ranges = pkg.engines.node.split('||').map((r) => r.trim());
  for (const range of ranges) assert.match(range, /^\^\d+\.\d+\.\d+$/, `install.sh reads only ^major.minor.patch ranges, not "${range}"`);
  assert.ok(ranges.some((r) => r.startsWith('^24.')), 'Node 24 LTS');
  const lock = JSON.parse(readFileSync(join(REPO, 'npm-shrinkwrap.json'), 'utf8')) as { version: string; packages: Record<string, { engines?: { node: string } }> };
  assert.equal(lock.version, pkg.version, 'npm-shrinkwrap.json is of this version (npm install --package-lock-only)');
  assert.equal(lock.packages[''].engines?.node, pkg.engines.node);
});
