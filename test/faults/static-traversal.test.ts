// Path traversal on the dashboard's static files: encoded ../, %2e%2e, double encoding, backslashes,
// overlong UTF-8, null bytes, generated in combination, sent byte for byte over a real socket. No path
// leaves the dashboard directory and none makes the server fail. (test/api/http-hardening.test.ts has
// the first five by hand.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { startGateway } from '../helpers/gateway.js';
import { recordFigure } from '../helpers/figures.js';
import { rawGet } from '../helpers/http.js';

const SECRET = 'outside-the-dashboard-7f3a';

const UP = [
  '..',
  '%2e%2e',
  '%2E%2E',
  '.%2e',
  '%2e.',
  '%252e%252e',
  '%%32%65%%32%65',
  '%c0%ae%c0%ae',
  '%e0%80%ae%e0%80%ae',
  '..%00',
  '...',
  '.',
];
const SEP = ['/', '%2f', '%2F', '%252f', '\\', '%5c', '%5C', '%255c', '//', '/./', '%c0%af'];
const TARGET = ['secret.txt', 'secret.txt%00.html', 'secret.txt%00', 'Secret.txt', 'site/../secret.txt', 'etc/passwd', 'package.json', ''];

const HAND_MADE = [
  '/../secret.txt',
  '/..%2fsecret.txt',
  '/%2e%2e/secret.txt',
  '/%2e%2e%2fsecret.txt',
  '/%252e%252e%252fsecret.txt',
  '/..\\secret.txt',
  '/..%5csecret.txt',
  '/assets/../../secret.txt',
  '/assets/..%2f..%2fsecret.txt',
  '/assets%2f..%2f..%2fsecret.txt',
  '/%c0%ae%c0%ae/secret.txt',
  '/..%c0%afsecret.txt',
  '/....//secret.txt',
  '/..;/secret.txt',
  '/%2e%2e;/secret.txt',
  '/index.html%00/../../secret.txt',
  '/%00../secret.txt',
  '//../secret.txt',
  '/./.././secret.txt',
  '/assets/%2e%2e/%2e%2e/secret.txt',
  '/file:///etc/passwd',
  '/%2fetc%2fpasswd',
  '//etc/passwd',
  '/\\..\\..\\secret.txt',
  '/..%255csecret.txt',
];

test('no generated path leaves the dashboard directory or makes the server fail', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-traversal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const site = join(dir, 'site');
  mkdirSync(join(site, 'assets'), { recursive: true });
  writeFileSync(join(site, 'index.html'), '<!doctype html><title>canplug</title>');
  writeFileSync(join(site, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  const tg = await startGateway({ http: { dashboard_dir: site } });
  t.after(() => tg.stop());
  const base = tg.gateway.httpUrl();

  const statuses = new Map<number, number>();
  const check = async (path: string) => {
    const res = await rawGet(base, path);
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    assert.ok(res.status < 500, `${path}: ${res.status} ${res.body.slice(0, 200)}`);
    assert.ok(
      !res.body.includes(SECRET) && !res.body.includes('"name": "canplug"') && !res.body.includes('root:x:0'),
      `${path} leaked: ${res.body.slice(0, 200)}`,
    );
    // Whatever is served is a file of the dashboard.
    if (res.status === 200)
      assert.ok(
        res.body.includes('<title>canplug</title>') || res.body === 'console.log(1)' || res.body.includes('"openapi"'),
        `${path}: served ${res.body.slice(0, 80)}`,
      );
  };
  for (const path of HAND_MADE) await check(path);
  const RUNS = 400;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('/', '/assets/', '/assets%2f', '//'),
      fc.array(fc.tuple(fc.constantFrom(...UP), fc.constantFrom(...SEP)), { minLength: 1, maxLength: 4 }),
      fc.constantFrom(...TARGET),
      async (start, ups, target) => check(`${start}${ups.map(([u, s]) => u + s).join('')}${target}`),
    ),
    { numRuns: RUNS },
  );
  assert.equal((await rawGet(base, '/assets/app.js')).status, 200, 'the dashboard itself is still served');
  t.diagnostic(`statuses: ${[...statuses].map(([s, n]) => `${s}x${n}`).join(', ')}`);
  recordFigure({ kind: 'security', name: 'path traversal on the dashboard files', cases: HAND_MADE.length + RUNS });
});
