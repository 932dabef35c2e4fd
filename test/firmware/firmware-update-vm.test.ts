// Firmware updates over the (simulated) CAN bus of a socket whose firmware runs on the MicroPython VM:
// started from REST (progress on the live stream), from Home Assistant's update entity over MQTT, and
// from the command line; each ends with the node running and reporting the new version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBundleFile } from '../../src/gateway/firmware-bundle.js';
import { bundleOf } from '../helpers/firmware-bundles.js';
import { liveFirmware, NODE, updateRig } from '../helpers/firmware-update-rig.js';
import { recordingClient, waitFor } from '../helpers/gateway.js';
import { runCli, writeDaemonConfig } from '../helpers/cli.js';

const slots = async (rig: Awaited<ReturnType<typeof updateRig>>) =>
  JSON.parse(Buffer.from((await rig.socket.node.flash())['/flash/slots.json'] ?? '{}').toString()) as Record<string, unknown>;

test('an update from REST, then from the Home Assistant update entity, then from the CLI: each installs and the node reports the new version', {
  timeout: 1_200_000,
}, async (t) => {
  const rig = await updateRig(t);
  const { tg } = rig;
  const api = tg.gateway.parts.api;
  assert.equal(rig.device().firmware, '1.0');

  // --- REST, with the progress on the live stream ---------------------------------------------------
  const live = await liveFirmware(t, tg);
  const bundle11 = bundleOf('1.1', rig.key); // only canplug/__init__.py differs from what the node runs
  const started = await api.inject({
    method: 'POST',
    url: '/api/devices/socket-5/firmware',
    headers: tg.auth,
    payload: { bundle: bundle11 },
  });
  assert.equal(started.statusCode, 202, started.body);
  assert.deepEqual([started.json().stage, started.json().to, started.json().from], ['queued', '1.1', '1.0']);
  await waitFor(() => rig.statuses.some((s) => s.stage === 'transferring'), 120_000, 'the transfer under way');
  const close = await api.inject({ method: 'PUT', url: '/api/devices/socket-5/relay', headers: tg.auth, payload: { on: true } });
  assert.equal(close.statusCode, 409, 'closing is refused during an update');
  assert.match(close.json().error, /firmware update is running/);
  const done = await rig.outcome();
  assert.equal(done.stage, 'installed', done.error);
  await waitFor(() => rig.device().firmware === '1.1', 30_000, 'the heartbeat with firmware 1.1');
  t.diagnostic(
    `REST: 1.0 -> 1.1, ${done.copiedFiles} files copied on the node, transfer + commit ${done.transferMs} ms, node block size ${done.nodeBlockSize}, ${Math.round(done.nodeFreeBytes! / 1024)} KiB free`,
  );
  assert.ok(done.copiedFiles > 25, `the files the node already runs are copied on the node, not sent: ${done.copiedFiles}`);
  const progress = live.filter((s) => s.stage === 'transferring').map((s) => s.progress);
  assert.ok(progress.length >= 3, `progress messages on the live stream: ${progress.join(',')}`);
  assert.deepEqual(
    progress,
    [...progress].sort((a, b) => a - b),
    'progress only goes up',
  );
  await waitFor(
    () => live.at(-1)?.stage === 'installed',
    10_000,
    'the installed status on the live stream (a WebSocket message, after the in-process event)',
  );
  const state = await slots(rig);
  assert.deepEqual([state.active, (state.last as { result: string }).result], ['a', 'installed']);
  assert.deepEqual(rig.socket.node.reboots, [], 'no last-resort reboot');
  const firmware = (await api.inject({ url: '/api/devices/socket-5/firmware' })).json();
  assert.equal(firmware.installed, '1.1');
  assert.equal(
    (await api.inject({ method: 'PUT', url: '/api/devices/socket-5/relay', headers: tg.auth, payload: { on: true } })).statusCode,
    200,
    'closing works again',
  );

  // --- Home Assistant's update entity -------------------------------------------------------------------
  writeBundleFile(join(tg.dir, 'firmware-bundle.json'), bundleOf('1.2', rig.key));
  const mqtt = await recordingClient(tg.gateway.mqttUrl(), ['homeassistant/update/#', 'canplug/socket-5/firmware']);
  t.after(() => mqtt.client.endAsync());
  const configTopic = await waitFor(
    () => [...mqtt.messages.keys()].find((k) => k.startsWith('homeassistant/update/') && k.endsWith('/firmware/config')),
    10_000,
    'the update entity config',
  );
  const config = JSON.parse(mqtt.messages.get(configTopic)!);
  assert.equal(config.device_class, 'firmware');
  assert.equal(config.command_topic, 'canplug/socket-5/firmware/install');
  const haState = () => JSON.parse(mqtt.messages.get('canplug/socket-5/firmware') ?? '{}') as Record<string, unknown>;
  // The entity learns of the new bundle at the next change of the device (or HA's birth message).
  await mqtt.client.publishAsync('homeassistant/status', 'online');
  await waitFor(
    () => haState().latest_version === '1.2' && haState().installed_version === '1.1',
    10_000,
    'HA sees 1.1 installed and 1.2 available',
  );
  const percentages: number[] = [];
  mqtt.client.on('message', (topic, payload) => {
    if (topic !== 'canplug/socket-5/firmware') return;
    const p = JSON.parse(payload.toString()) as { in_progress: boolean; update_percentage: number | null };
    if (p.in_progress && p.update_percentage !== null) percentages.push(p.update_percentage);
  });
  await mqtt.client.publishAsync(config.command_topic, config.payload_install);
  const viaHa = await waitFor(
    () => {
      const last = rig.statuses.at(-1);
      return last && last.to === '1.2' && (last.stage === 'installed' || last.stage === 'failed') ? last : undefined;
    },
    300_000,
    'the update started from HA to end',
  );
  assert.equal(viaHa.stage, 'installed', viaHa.error);
  assert.equal(viaHa.origin, 'mqtt');

  await waitFor(() => haState().installed_version === '1.2' && haState().in_progress === false, 30_000, 'HA shows 1.2 installed');
  assert.ok(percentages.length >= 2 && percentages.some((p) => p > 0 && p < 100), `HA saw the progress: ${percentages.join(',')}`);

  // --- the command line, through the running daemon ------------------------------------------------------
  const dir = mkdtempSync(join(tmpdir(), 'canplug-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bundleFile = join(dir, 'bundle-1.3.json');
  writeBundleFile(bundleFile, bundleOf('1.3', rig.key, true)); // every file changed: the whole firmware crosses the bus
  const configFile = await writeDaemonConfig(dir, { database: { path: tg.config.database.path } });
  const cli = await runCli(
    ['--config', configFile, 'firmware', 'update', `${NODE}`, '--bundle', bundleFile, '--url', tg.gateway.httpUrl()],
    { timeoutMs: 600_000 },
  );
  assert.equal(cli.code, 0, `${cli.stdout}\n${cli.stderr}`);
  assert.match(cli.stdout, /socket-5: firmware 1\.3 installed \(was 1\.2\)/);
  assert.match(cli.stdout, /socket-5: transferring/, 'the progress, as lines when not on a terminal');
  await waitFor(() => rig.device().firmware === '1.3', 30_000, 'the heartbeat with firmware 1.3');
  const full = rig.statuses.at(-1)!;
  assert.equal(full.copiedFiles, 1, 'every file was sent but the update key, which is the same');
  t.diagnostic(
    `CLI: 1.2 -> 1.3, the whole firmware (${full.totalBytes} bytes) over the simulated bus: transfer + commit ${full.transferMs} ms, node block size ${full.nodeBlockSize}`,
  );
  const events = (await api.inject({ url: '/api/events?device=socket-5&type=firmware' })).json().events as {
    cause: string;
    origin: string;
  }[];
  assert.deepEqual(
    events
      .filter((e) => e.cause === 'installed')
      .map((e) => e.origin)
      .sort(),
    ['mqtt', 'rest', 'rest'],
  );
});
