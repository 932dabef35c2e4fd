// `canplug firmware build` and `firmware key` as a user runs them: the bundle verifies with the key
// it made (mode 0600), carries the key for the next update, and bad sources are usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSigningKey, publicKeyHex, readBundleFile, verifyBundle } from '../../src/gateway/firmware-bundle.js';
import { firmwareWithVersion } from '../helpers/firmware-bundles.js';
import { runCli, writeDaemonConfig } from '../helpers/cli.js';

test('firmware build signs the firmware folder with a key it makes; firmware key prints its public half', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-fw-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = await writeDaemonConfig(dir, {});
  const source = firmwareWithVersion('2.7');
  t.after(source.cleanup);

  const built = await runCli(['--config', config, 'firmware', 'build', '--source', source.dir]);
  assert.equal(built.code, 0, built.stderr);
  assert.match(built.stdout, /new signing key in .*firmware-key\.pem/);
  assert.match(built.stdout, /firmware 2\.7: \d+ files signed into .*firmware-bundle\.json/);
  const keyFile = join(dir, 'firmware-key.pem');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const key = loadSigningKey(keyFile);
  const bundle = verifyBundle(readBundleFile(join(dir, 'firmware-bundle.json')), key);
  assert.equal(bundle.version, '2.7');
  const paths = bundle.manifest.files.map((f) => f.path);
  assert.ok(paths.includes('canplug/update.py') && paths.includes('canplug/hal/esp32.py'), paths.join(' '));
  assert.ok(!paths.some((p) => p.includes('__pycache__') || p === 'main.py' || p === 'boot_slots.py'), 'only the package and the key');
  const carried = bundle.contents[paths.indexOf('update_key.pub')].toString().trim();
  assert.equal(carried, publicKeyHex(key), 'the bundle carries the key for the next update');

  const again = await runCli(['--config', config, 'firmware', 'build', '--source', source.dir, '--out', join(dir, 'second.json')]);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /new signing key/, 'the key is made once');

  const printed = await runCli(['--config', config, 'firmware', 'key']);
  assert.equal(printed.code, 0);
  assert.equal(printed.stdout.trim(), publicKeyHex(key));

  const notFirmware = await runCli(['--config', config, 'firmware', 'build', '--source', dir]);
  assert.equal(notFirmware.code, 2);
  assert.match(notFirmware.stderr, /has no canplug\/__init__\.py: not a firmware folder/);
  const badName = firmwareWithVersion('2.8');
  t.after(badName.cleanup);
  mkdirSync(join(badName.dir, 'canplug', 'Extra'));
  writeFileSync(join(badName.dir, 'canplug', 'Extra', 'x.py'), '');
  const refused = await runCli(['--config', config, 'firmware', 'build', '--source', badName.dir]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /canplug\/Extra\/x\.py: the node accepts only lower-case names/);
  assert.equal(readFileSync(keyFile, 'utf8').includes('PRIVATE KEY'), true);
});
