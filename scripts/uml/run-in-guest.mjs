#!/usr/bin/env node
// Runs vcan test files inside a User-Mode Linux guest, whose kernel has the CAN stack this host's
// kernel may lack. The guest boots with the host's / as its root (hostfs), so it uses this checkout,
// this node and the host's can-utils; scripts/uml/init.sh is its PID 1.
//
//   node scripts/uml/run-in-guest.mjs [--timeout-s 900] [--mem 1G] [--disk image] [test/vcan/x.vcan.ts ...]
//
// With no files it runs every test/vcan/*.vcan.ts. Exit status: the guest suite's, 1 on a timeout
// or a guest that never ran the suite, 2 when no guest can start here (the reason is printed).
// Library use (test/can/socketcan-in-guest.test.ts): guestAvailability(), runInGuest(), vcanTestFiles().
// A block device for the guest (test/db/power-cut-in-guest.test.ts): `disk` is an ext4 image file the
// guest sees as /dev/ubda and mounts at /run/disk (CANPLUG_GUEST_DISK); aborting `signal` kills the
// guest at once, as pulling the plug would: what its page cache held never reaches the image.
import { spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..', '..');
const MODULES_ROOT = '/usr/lib/uml/modules';
const NEEDED_MODULES = ['net/can/can.ko', 'net/can/can-raw.ko', 'drivers/net/can/dev/can-dev.ko', 'drivers/net/can/vcan.ko'];
// Host programs the guest runs (it shares the host's /), with the Debian package that has them.
const NEEDED_PROGRAMS = [
  ['cansend', 'can-utils'],
  ['candump', 'can-utils'],
  ['cangen', 'can-utils'],
  ['ip', 'iproute2'],
  ['insmod', 'kmod'],
  ['tc', 'iproute2'],
  ['timeout', 'coreutils'],
  ['mount', 'mount'],
];

function which(program) {
  for (const dir of (process.env.PATH ?? '/usr/bin').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    const path = join(dir, program);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Whether a guest can start here: { ok: true, kernel } or { ok: false, reason } naming what to install. */
export function guestAvailability() {
  if (process.platform !== 'linux') return { ok: false, reason: `User-Mode Linux needs a Linux host (this is ${process.platform})` };
  const kernel = process.env.CANPLUG_UML_KERNEL || which('linux.uml');
  if (!kernel) return { ok: false, reason: 'no UML kernel: linux.uml not found (apt-get install user-mode-linux)' };
  try {
    accessSync(kernel, constants.X_OK);
  } catch {
    return { ok: false, reason: `UML kernel ${kernel} (CANPLUG_UML_KERNEL) is not an executable file` };
  }
  const versions = existsSync(MODULES_ROOT) ? readdirSync(MODULES_ROOT) : [];
  const complete = versions.filter((v) => NEEDED_MODULES.every((m) => existsSync(join(MODULES_ROOT, v, 'kernel', m))));
  if (complete.length === 0) return { ok: false, reason: `no UML CAN modules (${NEEDED_MODULES.join(', ')}) under ${MODULES_ROOT}` };
  const missing = NEEDED_PROGRAMS.filter(([p]) => !which(p));
  if (missing.length) {
    return { ok: false, reason: `missing ${missing.map(([p, pkg]) => `${p} (apt-get install ${pkg})`).join(', ')}` };
  }
  if (!existsSync(join(REPO_ROOT, 'node_modules', 'tsx'))) return { ok: false, reason: 'node_modules missing: run npm install' };
  return { ok: true, kernel };
}

/** Every guest test file, repo-relative, sorted. */
export function vcanTestFiles() {
  const dir = join(REPO_ROOT, 'test', 'vcan');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.vcan.ts'))
    .sort()
    .map((f) => `test/vcan/${f}`);
}

const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const MARK = 'canplug-guest: ';

/** A process group's members, found without a broad kill: /proc/<pid>/stat field 5 is the pgid. */
function groupMembers(pgid) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * Boots one guest, runs `files` there with node's test runner, and resolves with
 * { status, timedOut, bootMs, suiteMs, totalMs, tests, metrics, tap, console, runDir, leftover }.
 * Never rejects for a failing suite; rejects only when the guest cannot be spawned at all.
 */
export async function runInGuest({
  files = vcanTestFiles(),
  timeoutMs = 15 * 60_000,
  mem = '1G',
  onConsole,
  disk,
  env: guestEnv = {},
  signal,
} = {}) {
  const availability = guestAvailability();
  if (!availability.ok) throw new Error(`cannot start the UML guest: ${availability.reason}`);
  const runDir = mkdtempSync(join(tmpdir(), 'canplug-uml-'));
  copyFileSync(join(HERE, 'init.sh'), join(runDir, 'init.sh'));
  // The guest stops its own suite this long after start, so it halts even if this process is killed.
  const guestTimeoutS = Math.max(30, Math.floor(timeoutMs / 1000) - 45);
  const rel = files.map((f) => relative(REPO_ROOT, resolve(REPO_ROOT, f)));
  writeFileSync(
    join(runDir, 'guest-env.sh'),
    [
      `NODE=${shq(process.execPath)}`,
      `CANPLUG_CWD=${shq(REPO_ROOT)}`,
      `GUEST_TIMEOUT_S=${guestTimeoutS}`,
      `GUEST_DISK=${disk ? 'ubda' : ''}`,
      ...Object.entries(guestEnv).map(([k, v]) => `export ${k}=${shq(v)}`),
      `set -- ${rel.map(shq).join(' ')}`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env };
  // UML keeps guest RAM in a file under TMPDIR, else /dev/shm: a small /dev/shm (containers) would SIGBUS it.
  const memBytes = Number.parseInt(mem, 10) * ({ K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[mem.slice(-1).toUpperCase()] ?? 1);
  try {
    const shm = statfsSync('/dev/shm');
    if (!env.TMPDIR && shm.bavail * shm.bsize < memBytes * 1.1) env.TMPDIR = runDir;
  } catch {
    env.TMPDIR ??= runDir;
  }
  const args = [
    `mem=${mem}`,
    'root=/dev/root',
    'rootfstype=hostfs',
    'rootflags=/',
    'rw',
    `init=${runDir}/init.sh`,
    'con=null',
    'con0=fd:0,fd:1',
    'quiet',
    `CANPLUG_RUN=${runDir}`,
    ...(disk ? [`ubd0=${resolve(disk)}`] : []),
  ];
  const t0 = performance.now();
  // Own process group: UML forks a host process per guest address space, and a timeout must take all.
  const child = spawn(availability.kernel, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env, cwd: runDir });
  const consoleLog = createWriteStream(join(runDir, 'console.log'));
  let consoleTail = '';
  const marks = {};
  let pending = '';
  const onData = (chunk) => {
    const text = chunk.toString('utf8');
    consoleLog.write(text);
    consoleTail = (consoleTail + text).slice(-200_000);
    pending += text;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).replace(/\r$/, '');
      pending = pending.slice(nl + 1);
      const at = line.indexOf(MARK);
      if (at >= 0) marks[line.slice(at + MARK.length).split(' ')[0]] ??= performance.now();
      onConsole?.(line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  const killGroup = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  // Leave no guest behind when this process ends early (test runner timeout, Ctrl-C).
  const onSignal = (signal) => {
    killGroup();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', killGroup);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, timeoutMs);
  let cut = false;
  const pullThePlug = () => {
    cut = true;
    killGroup();
  };
  if (signal?.aborted) pullThePlug();
  signal?.addEventListener('abort', pullThePlug);
  const exit = await new Promise((resolveExit) => {
    child.on('error', (err) => resolveExit({ code: null, error: err }));
    child.on('exit', (code, signal) => resolveExit({ code, signal }));
  });
  clearTimeout(timer);
  signal?.removeEventListener('abort', pullThePlug);
  // UML's helper processes normally die with it; make sure, then check nothing of the group is left.
  killGroup();
  for (let i = 0; i < 50 && groupMembers(child.pid).length; i++) await new Promise((r) => setTimeout(r, 100));
  const leftover = groupMembers(child.pid);
  process.off('exit', killGroup);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await new Promise((r) => consoleLog.end(r));
  const totalMs = performance.now() - t0;

  const read = (name) => (existsSync(join(runDir, name)) ? readFileSync(join(runDir, name), 'utf8') : '');
  const statusText = read('status').trim();
  const events = read('events.jsonl')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const result = {
    status: statusText === '' ? null : Number(statusText),
    timedOut,
    cut,
    exit,
    bootMs: marks.ready !== undefined ? marks.ready - t0 : null,
    suiteMs: marks['suite-start'] !== undefined && marks['suite-end'] !== undefined ? marks['suite-end'] - marks['suite-start'] : null,
    totalMs,
    tests: events.filter((e) => e.type === 'pass' || e.type === 'fail'),
    metrics: events.filter((e) => e.type === 'metric'),
    tap: read('tap.txt'),
    console: consoleTail,
    leftover,
    runDir,
  };
  // Keep the evidence of a failed run; a passing one (or one cut on purpose) leaves nothing behind.
  if ((result.status === 0 || cut) && !timedOut && leftover.length === 0 && !process.env.CANPLUG_KEEP_GUEST_RUN) {
    rmSync(runDir, { recursive: true, force: true });
    result.runDir = undefined;
  }
  return result;
}

async function main() {
  const argv = process.argv.slice(2);
  const opts = { timeoutMs: 15 * 60_000, mem: '1G' };
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--timeout-s') opts.timeoutMs = Number(argv[++i]) * 1000;
    else if (argv[i] === '--mem') opts.mem = argv[++i];
    else if (argv[i] === '--disk') opts.disk = argv[++i];
    else files.push(argv[i]);
  }
  const availability = guestAvailability();
  if (!availability.ok) {
    console.error(`run-in-guest: ${availability.reason}`);
    process.exit(2);
  }
  const result = await runInGuest({
    files: files.length ? files : vcanTestFiles(),
    ...opts,
    onConsole: (line) => console.log(line),
  });
  const ms = (v) => (v === null ? 'n/a' : `${Math.round(v)} ms`);
  console.log(`run-in-guest: boot ${ms(result.bootMs)}, suite ${ms(result.suiteMs)}, total ${ms(result.totalMs)}`);
  for (const m of result.metrics) console.log(`run-in-guest: metric ${m.message}`);
  const failed = result.tests.filter((t) => t.type === 'fail').map((t) => t.name);
  if (failed.length) console.log(`run-in-guest: failed in the guest: ${failed.join('; ')}`);
  if (result.timedOut) console.log(`run-in-guest: timed out after ${opts.timeoutMs} ms; the guest was killed`);
  if (result.leftover.length) console.log(`run-in-guest: guest processes left: ${result.leftover.join(' ')}`);
  if (result.runDir) console.log(`run-in-guest: results kept in ${result.runDir}`);
  process.exit(result.timedOut || result.status === null ? 1 : result.status);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
