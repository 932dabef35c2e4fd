#!/usr/bin/env node
// The README's test command: every suite, one exit status.
// Usage: node scripts/test.mjs [--faults | --install] [--exclude <filter>]... [path filter ...]   (no filter: everything)
//   --faults: the slow fault suite (test/faults-slow/), which the default run leaves out.
//   --install: the install suite (test/install/): the release artifact installed by deploy/install.sh
//     as root in a throwaway root, started as the unit starts it, upgraded; minutes (npm ci builds addons).
//   --exclude <filter>: leaves out the files whose path contains it (CI's second Node leaves out the
//     guest suite this way and runs a part of it on its own).
// Tests that measure robustness (cases tried, faults survived, readings lost) append one JSON line
// each to test-artifacts/figures.jsonl (test/helpers/figures.ts); the table is printed at the end.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
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
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ') || '(no filter)'}${suite ? ` in ${suite}` : ''}`);
  process.exit(1);
}
rmSync(FIGURES_FILE, { force: true });
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-force-exit', '--test-concurrency=2', ...files],
  { stdio: 'inherit' },
);
if (existsSync(FIGURES_FILE)) process.stdout.write(figuresTable(readFileSync(FIGURES_FILE, 'utf8')));
process.exit(result.status ?? 1);
