// `canplug firmware build` and `firmware key` as a user runs them: the bundle verifies with the key
// it made (mode 0600), carries the key for the next update, and bad sources are usage errors;
// `firmware update all` updates every online CAN socket, one at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FirmwareStatus } from '../../src/contracts/firmware.js';
import {
  buildBundle,
  loadSigningKey,
  publicKeyHex,
  readBundleFile,
  verifyBundle,
  writeBundleFile,
} from '../../src/gateway/firmware-bundle.js';
import { FIRMWARE, firmwareWithVersion, newKey } from '../helpers/firmware-bundles.js';
import { runCli, writeDaemonConfig } from '../helpers/cli.js';
import { startGateway, waitFor } from '../helpers/gateway.js';

test('firmware build signs the firmware folder with a key it makes; firmware key prints its public half', {
  timeout: 60_000,
}, async (t) => {
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

test("firmware update all: every online CAN socket, one at a time; exit 3 with each socket's reason when they fail", {
  timeout: 120_000,
}, async (t) => {
  // The simulated sockets speak the protocol but not the transfer: each update fails, one after the other.
  const tg = await startGateway({ can: { sim: { nodes: [1, 2] } }, firmware: { answer_timeout_ms: 500 } });
  t.after(() => tg.stop());
  const key = newKey();
  writeBundleFile(join(tg.dir, 'firmware-bundle.json'), buildBundle(FIRMWARE, key));
  writeFileSync(join(tg.dir, 'firmware-key.pem'), key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const { registry, events } = tg.gateway.parts;
  await waitFor(() => registry.find('socket-1')?.available && registry.find('socket-2')?.available, 5000, 'both sockets online');
  const seen: FirmwareStatus[] = [];
  t.after(events.subscribe('test', { 'firmware.status': (s) => void seen.push({ ...s }) }));
  const dir = mkdtempSync(join(tmpdir(), 'canplug-fw-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = await writeDaemonConfig(dir, { database: { path: tg.config.database.path } });

  const cli = await runCli(['--config', config, 'firmware', 'update', 'all', '--url', tg.gateway.httpUrl()], { timeoutMs: 90_000 });
  assert.equal(cli.code, 3, `${cli.stdout}\n${cli.stderr}`);
  for (const name of ['socket-1', 'socket-2'])
    assert.match(cli.stdout, new RegExp(`${name}: update to 1\\.0 failed: the node does not answer firmware requests`));
  // firmware.parallel is 1 by default: the second socket leaves the queue only once the first ended.
  const first = seen.find((s) => s.stage !== 'queued')!.device;
  const firstEnded = seen.findIndex((s) => s.device === first && s.stage === 'failed');
  const secondStarted = seen.findIndex((s) => s.device !== first && s.stage !== 'queued');
  assert.ok(firstEnded >= 0 && secondStarted > firstEnded, `one at a time: ${seen.map((s) => `${s.device} ${s.stage}`).join(', ')}`);
});
