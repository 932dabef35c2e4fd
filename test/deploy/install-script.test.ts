import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { receiveQueueBytes } from '../../src/can/receive-queue.js';

const INSTALL = fileURLToPath(new URL('../../deploy/install.sh', import.meta.url));
const NODE = process.execPath;

function sh(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync('sh', [INSTALL, ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const mode = (path: string) => statSync(path).mode & 0o777;
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

test('install into a DESTDIR stages a complete, runnable tree; a second run keeps the config; --uninstall keeps config and data', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'canplug-destdir-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const first = sh(['--prefix', '/usr', '--bitrate', '250000'], { DESTDIR: root });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /Staged under .*: no user created, nothing enabled/);

  const app = join(root, 'usr/lib/canplug');
  for (const file of ['bin/canplug.js', 'src/cli.ts', 'migrations/001-initial.sql', 'package.json', 'node_modules/better-sqlite3/package.json', 'deploy/README.md']) {
    assert.ok(existsSync(join(app, file)), `${file} installed`);
  }
  const wrapper = join(root, 'usr/bin/canplug');
  assert.equal(mode(wrapper), 0o755);
  assert.match(readFileSync(wrapper, 'utf8'), new RegExp(`exec ${NODE} /usr/lib/canplug/bin/canplug\\.js "\\$@"`));

  const unitPath = join(root, 'usr/lib/systemd/system/canplug.service');
  const unit = readFileSync(unitPath, 'utf8');
  assert.doesNotMatch(unit, /@[A-Z]+@/, 'every placeholder filled in');
  assert.match(unit, new RegExp(`^ExecStart=${NODE} --max-semi-space-size=2 /usr/lib/canplug/bin/canplug\\.js run$`, 'm'));
  for (const line of ['Type=notify', 'NotifyAccess=all', 'WatchdogSec=30s', 'Restart=on-failure', 'User=canplug', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/canplug', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_CAN AF_NETLINK']) {
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

  // The staged program runs and accepts the example config it installed.
  const check = spawnSync(NODE, [join(app, 'bin/canplug.js'), 'config', 'check', config], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /: OK\n {2}can: can0 at 250000 bit\/s, protocol v1/);

  // Upgrade: the program is replaced whole, the config is the user's.
  writeFileSync(config, 'log:\n  level: debug\n');
  writeFileSync(join(app, 'src/removed-upstream.ts'), '');
  const second = sh(['--prefix', '/usr'], { DESTDIR: root });
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /config {8}\/etc\/canplug\/canplug\.yaml \(kept as it was\)/);
  assert.equal(readFileSync(config, 'utf8'), 'log:\n  level: debug\n');
  assert.ok(!existsSync(join(app, 'src/removed-upstream.ts')), 'stale program files do not linger');

  writeFileSync(join(root, 'var/lib/canplug/canplug.db'), 'data');
  const removed = sh(['--prefix', '/usr', '--uninstall'], { DESTDIR: root });
  assert.equal(removed.code, 0, removed.stderr);
  for (const gone of ['usr/lib/canplug', 'usr/bin/canplug', 'usr/lib/systemd/system/canplug.service', 'usr/lib/sysusers.d/canplug.conf', 'etc/sysctl.d/60-canplug-can.conf']) {
    assert.ok(!existsSync(join(root, gone)), `${gone} removed`);
  }
  assert.equal(readFileSync(config, 'utf8'), 'log:\n  level: debug\n', 'config kept');
  assert.equal(readFileSync(join(root, 'var/lib/canplug/canplug.db'), 'utf8'), 'data', 'data kept');
  assert.match(removed.stdout, /Kept: \/etc\/canplug \(config\), \/var\/lib\/canplug/);
});

test('the unit passes systemd-analyze verify and the service user file passes systemd-sysusers', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'canplug-verify-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.equal(sh(['--no-can'], { DESTDIR: root }).code, 0);
  assert.ok(!existsSync(join(root, 'etc/systemd/network')), '--no-can leaves the network alone');
  if (!has('systemd-analyze')) return t.skip('systemd-analyze is not installed (Debian package systemd)');
  const verify = spawnSync('systemd-analyze', ['verify', join(root, 'usr/local/lib/systemd/system/canplug.service')], { encoding: 'utf8' });
  assert.equal(verify.status, 0, verify.stderr);
  assert.equal(verify.stderr, '', 'no warnings (unknown keys, bad values)');
  if (!has('systemd-sysusers')) return t.skip('systemd-sysusers is not installed');
  const sysusers = spawnSync('systemd-sysusers', [`--root=${root}`, '--dry-run', join(root, 'usr/local/lib/sysusers.d/canplug.conf')], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_LOG_LEVEL: 'debug' },
  });
  assert.equal(sysusers.status, 0, sysusers.stderr);
  assert.match(sysusers.stdout + sysusers.stderr, /Creating user 'canplug' \(canplug gateway\)/);
});

test('install.sh refuses bad options with a message and touches nothing', () => {
  const root = mkdtempSync(join(tmpdir(), 'canplug-bad-'));
  try {
    const bitrate = sh(['--bitrate', '100000'], { DESTDIR: root });
    assert.equal(bitrate.code, 1);
    assert.equal(bitrate.stderr, 'install.sh: --bitrate must be 125000, 250000, 500000 or 1000000 (got 100000)\n');
    const option = sh(['--frobnicate'], { DESTDIR: root });
    assert.equal(option.code, 1);
    assert.match(option.stderr, /unknown option --frobnicate/);
    assert.ok(!existsSync(join(root, 'usr')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
