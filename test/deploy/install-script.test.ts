// deploy/install.sh's refusals and its uninstall, quickly (no dependencies installed). A whole
// install, upgrade and uninstall as root is test/install/install-and-upgrade.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const INSTALL = join(REPO, 'deploy/install.sh');
const ENV = { PATH: `${dirname(process.execPath)}:${process.env.PATH}`, HOME: process.env.HOME };

function sh(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync('sh', [script, ...args], { env: { ...ENV, ...env }, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-install-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A tarball shaped like a release artifact (package/...), with these files. */
function tarball(dir: string, files: Record<string, string>): string {
  const tree = join(dir, 'tree');
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(tree, 'package', path)), { recursive: true });
    writeFileSync(join(tree, 'package', path), content);
  }
  const out = join(dir, 'canplug-9.9.9.tgz');
  assert.equal(spawnSync('tar', ['-czf', out, '-C', tree, 'package']).status, 0);
  return out;
}

test('install.sh refuses bad options and arguments with a message and touches nothing', (t) => {
  const root = scratch(t);
  const cases: [string[], RegExp][] = [
    [['--bitrate', '100000'], /^install\.sh: --bitrate must be 125000, 250000, 500000 or 1000000 \(got 100000\)\n$/],
    [['--frobnicate'], /unknown option --frobnicate \(try --help\)/],
    [['--prefix', 'usr/local'], /--prefix must be an absolute path \(got usr\/local\)/],
    [['a.tgz', 'b.tgz'], /one artifact at a time \(got a\.tgz and b\.tgz\)/],
    [[join(root, 'missing.tgz')], /no such file: .*missing\.tgz \(the release artifact, canplug-<version>\.tgz\)/],
  ];
  for (const [args, message] of cases) {
    const result = sh(INSTALL, args, { DESTDIR: join(root, 'dest') });
    assert.equal(result.code, 1, args.join(' '));
    assert.match(result.stderr, message);
  }
  assert.ok(!existsSync(join(root, 'dest')));
});

test('--help describes the artifact and checkout installs', () => {
  const help = sh(INSTALL, ['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Installs canplug as a systemd service from a release artifact/);
  assert.match(help.stdout, /sudo deploy\/install\.sh canplug-0\.2\.0\.tgz/);
  assert.match(help.stdout, /--prefix DIR/);
});

test('a tarball that is not a complete canplug release is refused before anything is installed', (t) => {
  const dir = scratch(t);
  const dest = join(dir, 'dest');
  const notCanplug = sh(INSTALL, [tarball(dir, { 'README.md': 'something else' })], { DESTDIR: dest });
  assert.equal(notCanplug.code, 1);
  assert.match(notCanplug.stderr, /is not a complete canplug release \(bin\/, dist\/ and dashboard\/dist\/ expected\)/);
  assert.ok(!existsSync(join(dest, 'usr/local/lib/canplug')), 'nothing installed');
  assert.ok(!existsSync(join(dest, 'usr/local/lib/canplug.new')), 'nothing left behind');
});

test('a release for Node versions other than this one is refused, naming what it needs', (t) => {
  const dir = scratch(t);
  const artifact = tarball(dir, {
    'package.json': JSON.stringify({ name: 'canplug', version: '9.9.9', engines: { node: '^98.0.0 || ^99.1.0' } }),
    'bin/canplug.js': '',
    'dist/build.json': '{}',
    'dashboard/dist/index.html': '',
  });
  const result = sh(INSTALL, [artifact], { DESTDIR: join(dir, 'dest') });
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `install.sh: Node ${process.version} is not one this canplug supports (^98.0.0 || ^99.1.0); install Node.js 24 LTS (deploy/README.md)\n`,
  );
});

test('from a checkout that was not built, install.sh says to run npm ci first', (t) => {
  const checkout = scratch(t);
  mkdirSync(join(checkout, 'deploy'));
  mkdirSync(join(checkout, 'bin'));
  mkdirSync(join(checkout, 'src'));
  copyFileSync(INSTALL, join(checkout, 'deploy/install.sh'));
  copyFileSync(join(REPO, 'bin/source-hash.js'), join(checkout, 'bin/source-hash.js'));
  writeFileSync(join(checkout, 'src/cli.ts'), 'export {};\n');
  const script = join(checkout, 'deploy/install.sh');

  const noDashboard = sh(script, [], { DESTDIR: join(checkout, 'dest') });
  assert.equal(noDashboard.code, 1);
  assert.match(noDashboard.stderr, /has no built dashboard: run 'npm ci' there first/);

  mkdirSync(join(checkout, 'dashboard/dist'), { recursive: true });
  writeFileSync(join(checkout, 'dashboard/dist/index.html'), '');
  const noDist = sh(script, [], { DESTDIR: join(checkout, 'dest') });
  assert.equal(noDist.code, 1);
  assert.match(noDist.stderr, /\/dist is missing or older than src\/: run 'npm ci' \(or 'npm run build'\) there first/);
});

test('--uninstall removes the program, command, unit and service user file, and keeps config and data', (t) => {
  const root = scratch(t);
  const files = ['usr/lib/canplug/bin/canplug.js', 'usr/bin/canplug', 'usr/lib/systemd/system/canplug.service', 'usr/lib/sysusers.d/canplug.conf', 'usr/lib/canplug.new/package.json'];
  for (const file of [...files, 'etc/canplug/canplug.yaml', 'var/lib/canplug/canplug.db', 'var/lib/canplug/token']) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), file);
  }
  const removed = sh(INSTALL, ['--prefix', '/usr', '--uninstall'], { DESTDIR: root });
  assert.equal(removed.code, 0, removed.stderr);
  for (const file of files) assert.ok(!existsSync(join(root, file)), `${file} removed`);
  for (const file of ['etc/canplug/canplug.yaml', 'var/lib/canplug/canplug.db', 'var/lib/canplug/token']) {
    assert.equal(readFileSync(join(root, file), 'utf8'), file, `${file} kept`);
  }
  assert.match(removed.stdout, /Kept: \/etc\/canplug \(config\), \/var\/lib\/canplug \(database, token, backups\)/);
});
