// deploy/install.sh, quickly: what it stages (with --no-deps: no npm ci), its refusals and its
// uninstall. A whole install with dependencies, started, upgraded and uninstalled as root is
// test/install/install-and-upgrade.test.ts (npm run test:install).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { receiveQueueBytes } from '../../src/can/receive-queue.js';

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
  const noDeps = sh(INSTALL, ['--no-deps']);
  assert.equal(noDeps.code, 1);
  assert.match(noDeps.stderr, /--no-deps only stages \(with DESTDIR\): the service cannot run without its dependencies/);
});

const mode = (path: string) => statSync(path).mode & 0o777;
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

test('staged from this checkout: the program as the release packs it, a runnable unit, the config once; a second run keeps the config', (t) => {
  const root = scratch(t);
  const first = sh(INSTALL, ['--prefix', '/usr', '--bitrate', '250000', '--no-deps'], { DESTDIR: root });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /Staged under .*: no user created, nothing enabled/);

  const app = join(root, 'usr/lib/canplug');
  for (const file of [
    'bin/canplug.js',
    'dist/cli.js',
    'dashboard/dist/index.html',
    'migrations/001-initial.sql',
    'package.json',
    'npm-shrinkwrap.json',
    'deploy/README.md',
  ]) {
    assert.ok(existsSync(join(app, file)), `${file} installed`);
  }
  for (const file of ['test', 'bench', 'node_modules']) assert.ok(!existsSync(join(app, file)), `no ${file}/`);
  const wrapper = join(root, 'usr/bin/canplug');
  assert.equal(mode(wrapper), 0o755);
  assert.match(readFileSync(wrapper, 'utf8'), new RegExp(`exec ${process.execPath} /usr/lib/canplug/bin/canplug\\.js "\\$@"`));

  const unitPath = join(root, 'usr/lib/systemd/system/canplug.service');
  const unit = readFileSync(unitPath, 'utf8');
  assert.doesNotMatch(unit, /@[A-Z]+@/, 'every placeholder filled in');
  assert.match(
    unit,
    new RegExp(
      `^ExecStart=${process.execPath} --max-semi-space-size=2 --heap-growing-percent=20 /usr/lib/canplug/bin/canplug\\.js run$`,
      'm',
    ),
  );
  for (const line of [
    'Type=notify',
    'NotifyAccess=all',
    'WatchdogSec=30s',
    'Restart=on-failure',
    'User=canplug',
    'ProtectSystem=strict',
    'ReadWritePaths=/var/lib/canplug',
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_CAN AF_NETLINK',
  ]) {
    assert.match(unit, new RegExp(`^${line}$`, 'm'), line);
  }
  const config = join(root, 'etc/canplug/canplug.yaml');
  assert.equal(mode(config), 0o640);
  assert.match(readFileSync(config, 'utf8'), /^ {2}bitrate: 250000$/m);
  assert.equal(mode(join(root, 'var/lib/canplug')), 0o750);
  assert.match(readFileSync(join(root, 'etc/systemd/network/80-canplug-can0.network'), 'utf8'), /^\[CAN\]\nBitRate=250000$/m);
  assert.match(readFileSync(join(root, 'usr/lib/sysusers.d/canplug.conf'), 'utf8'), /^u canplug - "canplug gateway" \/var\/lib\/canplug /m);
  // Without CAP_NET_ADMIN (the unit grants none), the kernel caps SO_RCVBUF at rmem_max: the file
  // must allow the request for one second of a full 1 Mbit/s bus.
  const sysctl = readFileSync(join(root, 'etc/sysctl.d/60-canplug-can.conf'), 'utf8');
  const rmemMax = Number(/^net\.core\.rmem_max = (\d+)$/m.exec(sysctl)?.[1]);
  assert.ok(rmemMax >= receiveQueueBytes(1_000_000) / 2, `rmem_max ${rmemMax}`);
  assert.match(unit, /^CapabilityBoundingSet=$/m, 'no capability needed for the receive queue');

  if (has('systemd-analyze')) {
    const verify = spawnSync('systemd-analyze', ['verify', unitPath], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stderr, '', 'no warnings (unknown keys, bad values)');
  }
  if (has('systemd-sysusers')) {
    const sysusers = spawnSync('systemd-sysusers', [`--root=${root}`, '--dry-run', join(root, 'usr/lib/sysusers.d/canplug.conf')], {
      encoding: 'utf8',
      env: { ...process.env, SYSTEMD_LOG_LEVEL: 'debug' },
    });
    assert.equal(sysusers.status, 0, sysusers.stderr);
    assert.match(sysusers.stdout + sysusers.stderr, /Creating user 'canplug' \(canplug gateway\)/);
  }

  writeFileSync(config, 'log:\n  level: debug\n');
  writeFileSync(join(app, 'src/removed-upstream.ts'), '');
  const second = sh(INSTALL, ['--prefix', '/usr', '--no-deps'], { DESTDIR: root });
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /config {8}\/etc\/canplug\/canplug\.yaml \(kept as it was\)/);
  assert.equal(readFileSync(config, 'utf8'), 'log:\n  level: debug\n');
  assert.ok(!existsSync(join(app, 'src/removed-upstream.ts')), 'stale program files do not linger');
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
  const files = [
    'usr/lib/canplug/bin/canplug.js',
    'usr/bin/canplug',
    'usr/lib/systemd/system/canplug.service',
    'usr/lib/sysusers.d/canplug.conf',
    'usr/lib/canplug.new/package.json',
    'etc/sysctl.d/60-canplug-can.conf',
  ];
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
