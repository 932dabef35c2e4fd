#!/usr/bin/env node
// The README's test command: every suite, one exit status.
// Usage: node scripts/test.mjs [--faults | --install] [--exclude <filter>]... [path filter ...]   (no filter: everything)
//   --faults: the slow fault suite (test/faults-slow/), which the default run leaves out.
//   --install: the install suite (test/install/): the release artifact installed by deploy/install.sh
//     as root in a throwaway root, started as the unit starts it, upgraded; minutes (npm ci builds addons).
//   --exclude <filter>: leaves out the files whose path contains it (CI's second Node leaves out the
//     guest suite this way and runs a part of it on its own).
// Tests that measure robustness (cases tried, faults survived, readings lost) append one JSON line
// each to test-artifacts/figures.jsonl (test/helpers/figures.ts); the table is printed at the end,
// then every skipped test with its reason, and the slowest files (scripts/summary-reporter.mjs).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { FIGURES_FILE, figuresTable } from './figures.mjs';

// Suites the default run leaves out, by the option that runs them.
const SEPARATE = { '--faults': join('test', 'faults-slow'), '--install': join('test', 'install') };

const args = process.argv.slice(2);
const excludes = [];
const filters = [];
let suite;
for (let i = 0; i < args.length; i++) {
  if (args[i] in SEPARATE) suite = SEPARATE[args[i]];
  else if (args[i] === '--exclude' && i + 1 < args.length) excludes.push(args[++i]);
  else if (args[i].startsWith('--')) {
    console.error(`unknown option ${args[i]} (--faults, --install, --exclude <filter>)`);
    process.exit(2);
  } else filters.push(args[i]);
}

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

const separateSuite = (f) => Object.values(SEPARATE).find((dir) => f.startsWith(`${dir}/`));
const files = findTests('test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .filter((f) => !excludes.some((x) => f.includes(x)))
  // A separate suite runs only when asked for, or when a filter names its directory.
  .filter((f) => separateSuite(f) === suite || (separateSuite(f) && filters.some((x) => x.includes(basename(separateSuite(f))))));
// Longest first, so the two slots finish together instead of one long file running alone at the end:
// by the last known duration of each file (test-artifacts/test-durations.json, kept across runs),
// and where none is known yet (a fresh clone, CI) the suites known to be long start first (the guests first).
const DURATIONS_FILE = join(dirname(FIGURES_FILE), 'test-durations.json');
const LONG_FIRST = [
  'test/can/socketcan-in-guest',
  'test/firmware/firmware-update-in-guest',
  'test/db/power-cut-in-guest',
  'test/deploy/',
  'test/browser/',
  'test/firmware/',
];
const known = existsSync(DURATIONS_FILE) ? JSON.parse(readFileSync(DURATIONS_FILE, 'utf8')) : {};
const hinted = (f) => LONG_FIRST.findIndex((p) => f.startsWith(p));
const rank = (f) => known[f] ?? (hinted(f) >= 0 ? Number.MAX_SAFE_INTEGER - hinted(f) : 0);
files.sort((a, b) => rank(b) - rank(a));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ') || '(no filter)'}${suite ? ` in ${suite}` : ''}`);
  process.exit(1);
}
const SUMMARY_FILE = join(dirname(FIGURES_FILE), 'test-summary.jsonl');
rmSync(FIGURES_FILE, { force: true });
rmSync(SUMMARY_FILE, { force: true });
mkdirSync(dirname(SUMMARY_FILE), { recursive: true });
const startedAt = Date.now();
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    // A file whose Chromium or vite leaves a handle open would hang the run without it (seen once in CI).
    // Its cost (nodejs/node#64833): with two files at a time it can drop the tail of a file's verdicts
    // from the report; a failing file still fails the run, but the counts are lower bounds.
    '--test-force-exit',
    '--test-concurrency=2',
    // node's default reporter (spec on a terminal, TAP otherwise), and the summary beside it.
    `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/summary-reporter.mjs',
    `--test-reporter-destination=${SUMMARY_FILE}`,
    ...files,
  ],
  { stdio: 'inherit' },
);
const wallS = (Date.now() - startedAt) / 1000;
if (existsSync(FIGURES_FILE)) process.stdout.write(figuresTable(readFileSync(FIGURES_FILE, 'utf8')));
if (existsSync(SUMMARY_FILE)) {
  const jsonl = readFileSync(SUMMARY_FILE, 'utf8');
  for (const row of rows(jsonl)) if (row.kind === 'file') known[relative(process.cwd(), row.file)] = row.ms;
  writeFileSync(DURATIONS_FILE, `${JSON.stringify(known, null, 1)}\n`);
  process.stdout.write(summary(jsonl));
}
process.exit(result.status ?? 1);

/** The summary reporter's JSON lines. */
function rows(jsonl) {
  return jsonl
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

/** Every skip with its reason (a machine without a tool must say what it left out), then the slowest files. */
function summary(jsonl) {
  const all = rows(jsonl);
  const name = (file) => relative(process.cwd(), file);
  const out = ['', `== ${files.length} test files in ${wallS.toFixed(0)} s wall time ==`];
  const skips = all.filter((r) => r.kind === 'skip');
  out.push('', `Skipped: ${skips.length}`);
  for (const s of skips) out.push(`  ${name(s.file)}: ${s.name}`, `    because ${s.reason}`);
  const slowest = all
    .filter((r) => r.kind === 'file')
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 10);
  out.push('', 'Slowest files:');
  for (const f of slowest) out.push(`  ${(f.ms / 1000).toFixed(1).padStart(6)} s  ${name(f.file)}`);
  return `${out.join('\n')}\n`;
}
