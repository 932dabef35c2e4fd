// The touchscreen kiosk (deploy/kiosk/): install.sh --kiosk stages a unit that systemd verifies
// (staged with --no-deps: installing dependencies is test/install's part); the launcher hands the
// token to the dashboard in real (headless) Chromium without putting it on any command line; the
// page's blank screen swallows the waking tap; the backlight helper darkens and wakes the panel.
// Only cage (no display here) is stood in for, by a script that runs its client.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  closeSync,
  writeSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildDashboard, CHROMIUM, chromiumAvailable } from '../helpers/browser.js';
import { startGateway, waitFor } from '../helpers/gateway.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const KIOSK_SH = join(DEPLOY, 'kiosk', 'kiosk.sh');
const BACKLIGHT = join(DEPLOY, 'kiosk', 'backlight.mjs');
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

function tempDir(t: TestContext, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `canplug-${name}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A panel's backlight and an input device as the helper sees them: a bl_power file and a FIFO. */
function fakeHardware(dir: string): { backlight: string; input: string; blPower: string; touch: () => void; close: () => void } {
  const backlight = join(dir, 'backlight');
  const input = join(dir, 'input');
  mkdirSync(join(backlight, '10-0045'), { recursive: true });
  mkdirSync(input);
  const blPower = join(backlight, '10-0045', 'bl_power');
  writeFileSync(blPower, '0');
  assert.equal(spawnSync('mkfifo', [join(input, 'event0')]).status, 0);
  // Read-write: never blocks, and the reader never sees an end (a real input device does not end).
  const fd = openSync(join(input, 'event0'), 'r+');
  return { backlight, input, blPower, touch: () => void writeSync(fd, Buffer.alloc(24, 1)), close: () => closeSync(fd) };
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(-child.pid!, 'SIGTERM');
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

test('install.sh --kiosk stages the kiosk with the gateway; a second run keeps its settings; --uninstall removes it', (t) => {
  const root = tempDir(t, 'kiosk-destdir');
  const run = spawnSync('sh', [join(DEPLOY, 'install.sh'), '--kiosk', '--no-can', '--no-deps'], {
    env: { PATH: process.env.PATH, DESTDIR: root },
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /kiosk unit {4}\/usr\/local\/lib\/systemd\/system\/canplug-kiosk\.service/);
  const unitPath = join(root, 'usr/local/lib/systemd/system/canplug-kiosk.service');
  const unit = readFileSync(unitPath, 'utf8');
  assert.doesNotMatch(unit, /@[A-Z]+@/, 'every placeholder filled in');
  for (const line of [
    'ExecStart=/bin/sh /usr/local/lib/canplug/deploy/kiosk/kiosk.sh',
    `Environment=CANPLUG_NODE=${process.execPath}`,
    'LoadCredential=token:/var/lib/canplug/token',
    'RuntimeDirectoryMode=0700',
    'User=canplug-kiosk',
    'PAMName=canplug-kiosk',
    'TTYPath=/dev/tty1',
    'Conflicts=getty@tty1.service',
    'WantedBy=graphical.target',
  ]) {
    assert.match(unit, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'), line);
  }
  assert.ok(existsSync(join(root, 'usr/local/lib/canplug/deploy/kiosk/kiosk.sh')), 'the launcher is installed with the program');
  assert.ok(existsSync(join(root, 'etc/pam.d/canplug-kiosk')));
  assert.ok(existsSync(join(root, 'etc/udev/rules.d/70-canplug-backlight.rules')));
  const env = join(root, 'etc/canplug/kiosk.env');
  assert.match(readFileSync(env, 'utf8'), /^CANPLUG_KIOSK_URL=http:\/\/127\.0\.0\.1:8080\/#\/devices$/m);

  writeFileSync(env, 'CANPLUG_KIOSK_BLANK_S=60\n');
  const again = spawnSync('sh', [join(DEPLOY, 'install.sh'), '--kiosk', '--no-can', '--no-deps'], {
    env: { PATH: process.env.PATH, DESTDIR: root },
    encoding: 'utf8',
  });
  assert.match(again.stdout, /kiosk config {2}\/etc\/canplug\/kiosk\.env \(kept as it was\)/);
  const removed = spawnSync('sh', [join(DEPLOY, 'install.sh'), '--uninstall'], {
    env: { PATH: process.env.PATH, DESTDIR: root },
    encoding: 'utf8',
  });
  assert.equal(removed.status, 0, removed.stderr);
  for (const gone of [
    'usr/local/lib/systemd/system/canplug-kiosk.service',
    'etc/pam.d/canplug-kiosk',
    'etc/udev/rules.d/70-canplug-backlight.rules',
  ]) {
    assert.ok(!existsSync(join(root, gone)), `${gone} removed`);
  }
  assert.equal(readFileSync(env, 'utf8'), 'CANPLUG_KIOSK_BLANK_S=60\n', 'the kiosk settings stay');
});

test('the kiosk unit passes systemd-analyze verify and its user file passes systemd-sysusers', (t) => {
  const root = tempDir(t, 'kiosk-verify');
  const run = spawnSync('sh', [join(DEPLOY, 'install.sh'), '--kiosk', '--no-can', '--no-deps'], {
    env: { PATH: process.env.PATH, DESTDIR: root },
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  if (!has('systemd-analyze')) return t.skip('systemd-analyze is not installed (Debian package systemd)');
  const verify = spawnSync('systemd-analyze', ['verify', join(root, 'usr/local/lib/systemd/system/canplug-kiosk.service')], {
    encoding: 'utf8',
  });
  assert.equal(verify.status, 0, verify.stderr);
  assert.equal(verify.stderr, '', 'no warnings (unknown keys, bad values, a missing program)');
  if (!has('systemd-sysusers')) return t.skip('systemd-sysusers is not installed');
  const sysusers = spawnSync(
    'systemd-sysusers',
    [`--root=${root}`, '--dry-run', join(root, 'usr/local/lib/sysusers.d/canplug-kiosk.conf')],
    {
      encoding: 'utf8',
      env: { ...process.env, SYSTEMD_LOG_LEVEL: 'debug' },
    },
  );
  assert.equal(sysusers.status, 0, sysusers.stderr);
  assert.match(sysusers.stdout + sysusers.stderr, /Creating user 'canplug-kiosk' \(canplug touchscreen kiosk\)/);
});

test('kiosk.sh refuses bad settings with one clear sentence, before starting anything', (t) => {
  const dir = tempDir(t, 'kiosk-bad');
  const base = { PATH: process.env.PATH, RUNTIME_DIRECTORY: dir, STATE_DIRECTORY: dir, CANPLUG_KIOSK_BROWSER: '/bin/true' };
  const cases: [Record<string, string>, RegExp][] = [
    [{ CANPLUG_KIOSK_BLANK_S: 'soon' }, /CANPLUG_KIOSK_BLANK_S must be a whole number of seconds, 0 for never \(got 'soon'\)/],
    [{ CANPLUG_KIOSK_URL: 'ftp://gateway/' }, /CANPLUG_KIOSK_URL must start with http:\/\/ or https:\/\//],
    [{ CANPLUG_KIOSK_URL: 'http://x/"><script>' }, /CANPLUG_KIOSK_URL cannot contain quotes/],
    [{ PATH: '/nonexistent' }, /cage is not installed: sudo apt-get install cage/],
  ];
  for (const [env, message] of cases) {
    const run = spawnSync('/bin/sh', [KIOSK_SH], { env: { ...base, ...env }, encoding: 'utf8' });
    assert.equal(run.status, 1, JSON.stringify(env));
    assert.match(run.stderr, message);
    assert.ok(!existsSync(join(dir, 'start.html')), 'no start page written');
  }
});

test('the backlight helper darkens the panel after the idle time, lights it at the next input and when stopped', {
  timeout: 60_000,
}, async (t) => {
  const hw = fakeHardware(tempDir(t, 'backlight'));
  t.after(hw.close);
  const helper = spawn(process.execPath, [BACKLIGHT, '1'], {
    env: { CANPLUG_KIOSK_BACKLIGHT: hw.backlight, CANPLUG_KIOSK_INPUT: hw.input },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.after(() => helper.kill('SIGKILL'));
  let said = '';
  helper.stderr!.on('data', (d) => (said += d));
  const power = () => readFileSync(hw.blPower, 'utf8');
  await waitFor(() => said.includes('dark after 1 s'), 10_000, 'the helper started');
  await waitFor(() => power() === '1', 10_000, 'dark after a second without input');
  hw.touch();
  await waitFor(() => power() === '0', 5000, 'lit at the touch');
  await waitFor(() => power() === '1', 10_000, 'dark again');
  const exited = once(helper, 'exit');
  helper.kill('SIGTERM');
  assert.deepEqual(await exited, [0, null]);
  assert.equal(power(), '0', 'a stopped kiosk never leaves the screen dark');

  const none = spawnSync(process.execPath, [BACKLIGHT, '5'], {
    env: { CANPLUG_KIOSK_BACKLIGHT: join(hw.backlight, 'none') },
    encoding: 'utf8',
  });
  assert.equal(none.status, 0);
  assert.match(none.stderr, /no backlight in .*: the screen stays lit \(the page turns black when idle\)/);
});

/** A port free right now on 127.0.0.1 (the kiosk is started before the gateway that will use it). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

test('the kiosk waits for the gateway, then opens the dashboard unlocked, the token on no command line; a tap on the blank screen only wakes it', {
  timeout: 180_000,
}, async (t) => {
  if (!chromiumAvailable(t)) return;
  const site = await buildDashboard(t);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const token = 'kiosk-test-token_0123456789abcdefghij';
  const dir = tempDir(t, 'kiosk');
  const [run, state, credentials, bin, home] = ['run', 'state', 'credentials', 'bin', 'home'].map((d) => join(dir, d));
  for (const d of [run, state, credentials, bin, home]) mkdirSync(d, { mode: 0o700 });
  writeFileSync(join(credentials, 'token'), `${token}\n`, { mode: 0o400 });
  // cage stands in here for the compositor (no display): it runs its client, as cage does.
  writeFileSync(join(bin, 'cage'), '#!/bin/sh\n[ "$1" = -- ] && shift\nexec "$@"\n');
  chmodSync(join(bin, 'cage'), 0o755);
  const hw = fakeHardware(dir);
  t.after(hw.close);

  const kiosk = spawn('/bin/sh', [KIOSK_SH], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      HOME: home,
      RUNTIME_DIRECTORY: run,
      STATE_DIRECTORY: state,
      CREDENTIALS_DIRECTORY: credentials,
      CANPLUG_NODE: process.execPath,
      CANPLUG_KIOSK_URL: `${url}/#/devices`,
      CANPLUG_KIOSK_BLANK_S: '3',
      CANPLUG_KIOSK_BROWSER: CHROMIUM,
      CANPLUG_KIOSK_FLAGS: '--headless --no-sandbox --disable-gpu --remote-debugging-port=0 --window-size=800,480',
      CANPLUG_KIOSK_BACKLIGHT: hw.backlight,
      CANPLUG_KIOSK_INPUT: hw.input,
    },
  });
  let said = '';
  kiosk.stderr!.on('data', (d) => (said += d));
  t.after(() => stopGroup(kiosk));

  const portFile = join(state, 'chromium', 'DevToolsActivePort');
  await waitFor(
    () => existsSync(portFile) && readFileSync(portFile, 'utf8').includes('\n'),
    30_000,
    `Chromium's debugging port (kiosk said: ${said})`,
  );
  const browser = await chromium.connectOverCDP(`http://127.0.0.1:${readFileSync(portFile, 'utf8').split('\n')[0]}`);
  t.after(() => browser.close().catch(() => {}));
  // Up before the gateway (as at boot): the start page waits instead of showing a browser error.
  const waiting = await waitFor(
    () =>
      browser
        .contexts()[0]
        ?.pages()
        .find((p) => p.url().startsWith('file://')),
    20_000,
    'the start page',
  );
  await waiting.getByText('Waiting for the canplug gateway').waitFor();
  await new Promise((r) => setTimeout(r, 2500)); // at least one retry
  assert.ok(waiting.url().startsWith('file://'), 'still waiting while nothing answers');

  // The gateway's token file holds the token the kiosk was handed (LoadCredential copies it).
  const tokenFile = join(dir, 'gateway-token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const tg = await startGateway({ http: { dashboard_dir: site, port, token_file: tokenFile } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const page = await waitFor(
    () =>
      browser
        .contexts()[0]
        ?.pages()
        .find((p) => p.url().startsWith(url)),
    20_000,
    'the dashboard page',
  );
  page.setDefaultTimeout(15_000);

  // The token arrived: the switches work (a page without it is read-only), and it left the address bar.
  const toggle = page.locator('[data-device="socket-1"] .toggle');
  await page.waitForFunction(
    () => (document.querySelector('[data-device="socket-1"] .toggle') as HTMLButtonElement | null)?.disabled === false,
  );
  assert.doesNotMatch(page.url(), /token/);
  assert.match(page.url(), /\?blank=3#\/devices$/);
  const startPage = join(run, 'start.html');
  assert.equal(statSync(startPage).mode & 0o077, 0, 'the start page is private to the kiosk user');

  // No process of the kiosk carries the token in its arguments (what ps shows everyone).
  const group = readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[2] === String(kiosk.pid);
      } catch {
        return false; // gone meanwhile
      }
    });
  const commandLines = group.map((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      return '';
    }
  });
  assert.ok(
    commandLines.some((c) => c.includes('chromium') && c.includes('--kiosk')),
    `Chromium runs in the kiosk's process group: ${commandLines.join(' | ')}`,
  );
  assert.ok(
    commandLines.some((c) => c.includes('backlight.mjs 3')),
    'the backlight helper runs',
  );
  for (const c of commandLines) assert.ok(!c.includes(token), `no token in: ${c.slice(0, 200)}`);

  // Idle: the page turns black and the backlight goes off; the tap that wakes it switches nothing.
  await page.locator('.screen-saver').waitFor({ state: 'visible', timeout: 15_000 });
  await waitFor(() => readFileSync(hw.blPower, 'utf8') === '1', 10_000, 'the backlight off');
  hw.touch(); // the touch reaches the backlight helper as well as the page
  const box = (await toggle.boundingBox())!;
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.locator('.screen-saver').waitFor({ state: 'hidden' });
  await waitFor(() => readFileSync(hw.blPower, 'utf8') === '0', 5000, 'the backlight on');
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(gateway.parts.sim.sockets[0].relay, true, 'the waking tap did not switch the socket under it');
  assert.equal(await toggle.getAttribute('aria-checked'), 'true');
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await waitFor(() => gateway.parts.sim.sockets[0].relay === false, 5000, 'the next tap switches');
});
