// bin/canplug.js runs the compiled dist/ only while it was built from exactly the sources in src/:
// an edited, added or removed source sends it back to the TypeScript sources, never to stale code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distIsFresh, sourceHash } from '../../bin/source-hash.js';

function checkout(t: { after: (fn: () => void) => void }): string {
  const root = mkdtempSync(join(tmpdir(), 'canplug-dist-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'src', 'can'), { recursive: true });
  mkdirSync(join(root, 'dist'));
  writeFileSync(join(root, 'src', 'cli.ts'), 'export const a = 1;\n');
  writeFileSync(join(root, 'src', 'can', 'codec.ts'), 'export const b = 2;\n');
  return root;
}

const recordBuild = (root: string) =>
  writeFileSync(join(root, 'dist', 'build.json'), JSON.stringify({ sourceHash: sourceHash(join(root, 'src')) }));

test('a build of the current sources is fresh; no build is not', (t) => {
  const root = checkout(t);
  assert.equal(distIsFresh(root), false, 'no build.json');
  recordBuild(root);
  assert.equal(distIsFresh(root), true);
});

test('editing, adding, removing or renaming a source makes the build stale', (t) => {
  const root = checkout(t);
  const changes: [string, () => void][] = [
    ['edited', () => writeFileSync(join(root, 'src', 'can', 'codec.ts'), 'export const b = 3;\n')],
    ['added', () => writeFileSync(join(root, 'src', 'can', 'frame.ts'), 'export {};\n')],
    ['removed', () => unlinkSync(join(root, 'src', 'can', 'frame.ts'))],
    [
      'moved',
      () => {
        unlinkSync(join(root, 'src', 'cli.ts'));
        writeFileSync(join(root, 'src', 'can', 'cli.ts'), 'export const a = 1;\n');
      },
    ],
  ];
  for (const [what, change] of changes) {
    recordBuild(root);
    change();
    assert.equal(distIsFresh(root), false, `a source ${what} after the build`);
  }
});
