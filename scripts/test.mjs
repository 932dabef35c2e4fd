#!/usr/bin/env node
// The README's test command: every suite, one exit status.
// Usage: node scripts/test.mjs [--faults] [path filter ...]   (no filter: everything)
//   --faults: the slow fault suite (test/faults-slow/), which the default run leaves out.
// Tests that measure robustness (cases tried, faults survived, readings lost) append one JSON line
// each to test-artifacts/figures.jsonl (test/helpers/figures.ts); the table is printed at the end.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { FIGURES_FILE, figuresTable } from './figures.mjs';

const args = process.argv.slice(2);
const faults = args.includes('--faults');
const filters = args.filter((a) => a !== '--faults');
const SLOW_DIR = join('test', 'faults-slow');

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

const slow = (f) => f.startsWith(`${SLOW_DIR}/`);
const files = findTests('test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  // The slow suite runs only when asked for, or when a filter names it.
  .filter((f) => faults === slow(f) || (slow(f) && filters.some((x) => x.includes('faults-slow'))));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ') || '(no filter)'}${faults ? ' in test/faults-slow' : ''}`);
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
