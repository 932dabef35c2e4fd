// What the release artifact (`npm pack`) ships, from `npm pack --dry-run`: the built program and
// dashboard, the migrations, the deploy files and the lockfile; no tests, benchmarks, data or
// secrets. And the release's metadata agrees with itself: a CHANGELOG entry for the version,
// engines that deploy/install.sh can read. CI prints the same listing (.ci/run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listMigrations } from '../../src/db/database.js';
import { sourceHash } from '../../bin/source-hash.js';

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
    'scripts/patch-socketcan.mjs',
    ...listMigrations().map((m) => `migrations/${m.name}.sql`),
  ];
  const missing = required.filter((f) => !files.includes(f));
  assert.deepEqual(missing, [], 'dist/ and dashboard/dist/ are built by npm ci (prepare) before packing');
  assert.ok(
    files.some((f) => /^dashboard\/dist\/assets\/index-[\w-]+\.js$/.test(f)),
    'the dashboard script',
  );
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
    // The build scripts, and the postinstall that patches socketcan in a user's install.
    /^scripts\/(?!build-dist\.mjs$|build-dashboard\.mjs$|patch-socketcan\.mjs$)/,
    /(^|\/)token$/,
    /\.(db|db-wal|db-shm|bak|sqlite|pem|key|crt|log|tgz)$/,
    /(^|\/)\.env/,
    /(^|\/)\.npmrc$/,
    /^package-lock\.json$/,
  ];
  const shipped = files.filter((f) => forbidden.some((pattern) => pattern.test(f)));
  assert.deepEqual(shipped, []);
});

test('the version has a CHANGELOG entry, and engines are ranges deploy/install.sh reads, Node 24 among them', () => {
  const changelog = readFileSync(join(REPO, 'CHANGELOG.md'), 'utf8');
  assert.match(
    changelog,
    new RegExp(`^## ${pkg.version.replaceAll('.', '\\.')} \\(\\d{4}-\\d{2}-\\d{2}\\)$`, 'm'),
    `a "## ${pkg.version} (date)" entry`,
  );
  const ranges = pkg.engines.node.split('||').map((r) => r.trim());
  for (const range of ranges) assert.match(range, /^\^\d+\.\d+\.\d+$/, `install.sh reads only ^major.minor.patch ranges, not "${range}"`);
  assert.ok(
    ranges.some((r) => r.startsWith('^24.')),
    'Node 24 LTS',
  );
  const lock = JSON.parse(readFileSync(join(REPO, 'npm-shrinkwrap.json'), 'utf8')) as {
    version: string;
    packages: Record<string, { engines?: { node: string } }>;
  };
  assert.equal(lock.version, pkg.version, 'npm-shrinkwrap.json is of this version (npm install --package-lock-only)');
  assert.equal(lock.packages[''].engines?.node, pkg.engines.node);
});

test('npm pack refuses to make an artifact without the dashboard or with dist/ older than the sources', (t) => {
  // A checkout without dev dependencies (no Vite, no esbuild): what packing must not get past.
  const dir = mkdtempSync(join(tmpdir(), 'canplug-pack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const file of [
    'package.json',
    'CHANGELOG.md',
    'scripts/build-dashboard.mjs',
    'scripts/build-dist.mjs',
    'bin/canplug.js',
    'bin/source-hash.js',
  ]) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    copyFileSync(join(REPO, file), join(dir, file));
  }
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src/cli.ts'), 'export {};\n');
  const pack = () => spawnSync('npm', ['pack', '--dry-run', '--json'], { cwd: dir, encoding: 'utf8' });

  const noDashboard = pack();
  assert.notEqual(noDashboard.status, 0);
  assert.match(noDashboard.stderr, /the dashboard is not built and cannot be packed; run "npm ci" first/);

  mkdirSync(join(dir, 'dashboard/dist'), { recursive: true });
  writeFileSync(join(dir, 'dashboard/dist/index.html'), '<title>canplug</title>');
  const noDist = pack();
  assert.notEqual(noDist.status, 0);
  assert.match(noDist.stderr, /dist\/ could not be built \(.*\), so it cannot be packed; run "npm ci" first/);

  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'dist/build.json'), JSON.stringify({ sourceHash: sourceHash(join(dir, 'src')) }));
  const built = pack();
  assert.equal(built.status, 0, built.stderr);
  // The build scripts' lines come first on stdout; npm's JSON after them.
  const [packed] = JSON.parse(built.stdout.slice(built.stdout.search(/^\[/m))) as { files: { path: string }[] }[];
  assert.ok(['dist/build.json', 'dashboard/dist/index.html'].every((f) => packed.files.some((p) => p.path === f)));
});
