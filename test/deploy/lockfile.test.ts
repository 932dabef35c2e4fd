// The lockfile (npm-shrinkwrap.json) as a fresh clone on a Pi meets it: `npm ci` accepts it for
// x64, arm64 and armhf (rollup and esbuild have one optional package per platform, and a lockfile
// missing another platform's entries is refused there: "package.json and package-lock.json are not
// in sync"), and `npm install` leaves it unchanged. Dry runs on a copy: nothing is installed.
// CI repeats the npm ci checks with npm 10 (.ci/run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

function copyOfManifests(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const file of ['package.json', 'npm-shrinkwrap.json']) copyFileSync(join(REPO, file), join(dir, file));
  return dir;
}

const npm = (cwd: string, args: string[]) =>
  spawnSync('npm', [...args, '--ignore-scripts', '--no-audit', '--no-fund'], { cwd, encoding: 'utf8' });

test('npm ci accepts the lockfile on x64, arm64 and armhf Linux', (t) => {
  const dir = copyOfManifests(t);
  for (const [cpu, rollup] of [
    ['x64', 'rollup-linux-x64-gnu'],
    ['arm64', 'rollup-linux-arm64-gnu'],
    ['arm', 'rollup-linux-arm-gnueabihf'],
  ]) {
    const ci = npm(dir, ['ci', '--dry-run', '--os=linux', `--cpu=${cpu}`, '--libc=glibc']);
    assert.equal(ci.status, 0, `${cpu}: ${ci.stderr}`);
    assert.match(ci.stdout, new RegExp(`@rollup/${rollup}\\b`), `${cpu}: its rollup package would be installed`);
  }
});

test('npm install leaves the lockfile unchanged', (t) => {
  const dir = copyOfManifests(t);
  const install = npm(dir, ['install', '--package-lock-only']);
  assert.equal(install.status, 0, install.stderr);
  assert.equal(readFileSync(join(dir, 'npm-shrinkwrap.json'), 'utf8'), readFileSync(join(REPO, 'npm-shrinkwrap.json'), 'utf8'));
});
