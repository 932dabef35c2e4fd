// Firmware updates of the CPython host runner (firmware/host/run.py) over kernel SocketCAN (vcan0):
// updates from REST, from Home Assistant's update entity and from the CLI, each ending with the node
// reporting the new version, a power cut (SIGKILL) at each step, and on a bus emulated at 125 kbit/s (vcan echoing through a token-bucket qdisc, transfer ids in
// a lower-priority band) the transfer's time, its bus share and the report latency of other sockets.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { frameBits } from '../../src/can/isotp.js';
import { publicKeyHex, writeBundleFile, type Bundle } from '../../src/gateway/firmware-bundle.js';
import type { FirmwareStage, FirmwareStatus } from '../../src/contracts/firmware.js';
import { bundleOf, newKey } from '../helpers/firmware-bundles.js';
import { recordFigure } from '../helpers/figures.js';
import { recordingClient, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { runCli, writeDaemonConfig } from '../helpers/cli.js';
import { emulateBus, percentile, restorePlainVcan, retimeBus } from './bus-emulation.js';
import { FirmwareRunner } from './firmware-runner.js';
import { assertInGuest, IFACE, openTransport, PATIENCE_MS, resetVcan, stopAll } from './vcan-helpers.js';

const key = newKey();
const PROBE = new URL('./report-latency-probe.py', import.meta.url).pathname;
const dirs: string[] = [];

before(async () => {
  assertInGuest();
  await resetVcan();
});
after(async () => {
  await stopAll();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function rig(t: TestContext, can: Record<string, unknown>, runnerArgs: string[] = [], updates: Record<string, unknown> = {}) {
  const flash = mkdtempSync(join(tmpdir(), 'canplug-flash-'));
  dirs.push(flash);
  const runner = new FirmwareRunner([
    '--node',
    '5',
    '--channel',
    IFACE,
    '--state-dir',
    flash,
    '--update-key',
    publicKeyHex(key),
    '--set',
    'report_period_ms=500',
    '--set',
    'update_frame_timeout_ms=10000',
    ...runnerArgs,
  ]);
  await runner.start();
  t.after(() => runner.stop());
  const tg = await startGateway({
    can: { transport: 'socketcan', interface: IFACE, command_timeout_ms: 3000, heartbeat_timeout_ms: 5000, ...can },
    safety: { gateway_rule: false },
    firmware: { confirm_timeout_s: 300, answer_timeout_ms: 60_000, flow_timeout_ms: 5000, ...updates },
  });
  t.after(() => tg.stop());
  writeFileSync(join(tg.dir, 'firmware-key.pem'), key.export({ format: 'pem', type: 'pkcs8' }));
  const statuses: FirmwareStatus[] = [];
  tg.gateway.parts.events.subscribe('test', { 'firmware.status': (s) => void statuses.push(s) });
  const firmware = () => tg.gateway.parts.registry.find('socket-5')?.info.firmware;
  await waitFor(() => tg.gateway.parts.registry.find('socket-5')?.available && firmware(), 4 * PATIENCE_MS, 'socket-5 online');
  return { runner, tg, statuses, firmware, flash };
}

async function update(tg: TestGateway, bundle: Bundle): Promise<void> {
  const started = await tg.gateway.parts.api.inject({
    method: 'POST',
    url: '/api/devices/socket-5/firmware',
    headers: tg.auth,
    payload: { bundle },
  });
  assert.equal(started.statusCode, 202, started.body);
}

const ended = (statuses: FirmwareStatus[], to: string) =>
  waitFor(
    () => {
      const last = statuses.at(-1);
      return last && last.to === to && (last.stage === 'installed' || last.stage === 'failed') ? last : undefined;
    },
    600_000,
    `the update to ${to} to end`,
  );

test('host runner on vcan0: updates from REST, from the HA update entity and from the CLI install and the node reports each; a power cut at each step leaves a whole firmware', {
  timeout: 1_800_000,
}, async (t) => {
  const { runner, tg, statuses, firmware, flash } = await rig(t, { bitrate: 500000 }, ['--set', 'update_confirm_s=60']);
  assert.equal(firmware(), '1.0');
  await update(tg, bundleOf('1.1', key));
  const done = await ended(statuses, '1.1');
  assert.equal(done.stage, 'installed', done.error);
  await waitFor(() => firmware() === '1.1', PATIENCE_MS, 'heartbeats with 1.1');
  assert.equal((await runner.control('status')).firmware, '1.1');
  assert.equal(runner.boots, 2, 'the firmware reset itself once, into the new slot, in the same process');
  t.diagnostic(`REST on vcan0: 1.0 -> 1.1 in ${done.transferMs} ms (${done.copiedFiles} files copied on the node)`);

  // Home Assistant's update entity: its install button, with the daemon's bundle.
  writeBundleFile(join(tg.dir, 'firmware-bundle.json'), bundleOf('1.2', key));
  const mqtt = await recordingClient(tg.gateway.mqttUrl(), ['homeassistant/update/#']);
  t.after(() => mqtt.client.endAsync());
  const configTopic = await waitFor(
    () => [...mqtt.messages.keys()].find((k) => k.endsWith('/firmware/config')),
    PATIENCE_MS,
    'the update entity config',
  );
  const entity = JSON.parse(mqtt.messages.get(configTopic)!) as { command_topic: string; payload_install: string };
  await mqtt.client.publishAsync(entity.command_topic, entity.payload_install);
  const viaHa = await ended(statuses, '1.2');
  assert.equal(viaHa.stage, 'installed', viaHa.error);
  assert.equal(viaHa.origin, 'mqtt');
  assert.equal((await runner.control('status')).firmware, '1.2');

  // The command line, through the running daemon, with a bundle file.
  const cliDir = mkdtempSync(join(tmpdir(), 'canplug-cli-'));
  dirs.push(cliDir);
  const bundleFile = join(cliDir, 'bundle-1.3.json');
  writeBundleFile(bundleFile, bundleOf('1.3', key));
  const configFile = await writeDaemonConfig(cliDir, { database: { path: tg.config.database.path } });
  const cli = await runCli(['--config', configFile, 'firmware', 'update', '5', '--bundle', bundleFile, '--url', tg.gateway.httpUrl()], {
    timeoutMs: 600_000,
  });
  assert.equal(cli.code, 0, `${cli.stdout}\n${cli.stderr}`);
  assert.match(cli.stdout, /socket-5: firmware 1\.3 installed \(was 1\.2\)/);
  assert.equal((await runner.control('status')).firmware, '1.3');
  await waitFor(() => firmware() === '1.3', PATIENCE_MS, 'heartbeats with 1.3');
  assert.equal(runner.boots, 4, 'one reset into the new slot per update');

  let version = '1.3';
  const steps: [FirmwareStage, (s: FirmwareStatus) => boolean, string][] = [
    ['transferring', (s) => s.progress >= 30, 'while the files are staged'],
    ['installing', () => true, 'as the commit goes out'],
    ['confirming', () => firmware() !== version, 'while the new firmware is on trial'],
    ['installed', () => true, 'after it confirmed itself'],
  ];
  for (const [n, [stage, when, what]] of steps.entries()) {
    const to = `1.${4 + n}`;
    let cut: Promise<void> | undefined;
    const check = () => {
      const last = statuses.at(-1);
      if (!cut && last?.to === to && last.stage === stage && when(last)) cut = runner.powerCut();
    };
    const unsubscribe = tg.gateway.parts.events.subscribe('test', { 'firmware.status': check }); // at once: the installed status is the last one
    const watch = setInterval(check, 20); // and while nothing is announced (the trial)
    await update(tg, bundleOf(to, key, stage === 'transferring')); // the whole firmware, so that the cut finds files half sent
    const end = await ended(statuses, to);
    clearInterval(watch);
    unsubscribe();
    assert.ok(
      cut,
      `no power cut ${what}: the update ended ${end.stage} (${end.error ?? ''}); stages seen: ${statuses
        .filter((s) => s.to === to)
        .map((s) => `${s.stage} ${s.progress}%`)
        .join(', ')}`,
    );
    await cut;
    await waitFor(() => tg.gateway.parts.registry.find('socket-5')?.available, 4 * PATIENCE_MS, 'socket-5 back online');
    const running = String((await runner.control('status')).firmware);
    assert.ok([version, to].includes(running), `${what}: the node runs ${running}, expected ${version} or ${to}`);
    assert.equal(
      end.stage === 'installed',
      running === to,
      `${what}: the gateway says ${end.stage} (${end.error ?? ''}), the node runs ${running}`,
    );
    if (stage === 'transferring') assert.equal(running, version, 'nothing is installed before the commit');
    if (stage === 'installed') assert.equal(running, to, 'a confirmed firmware stays');
    await waitFor(() => firmware() === running, PATIENCE_MS, `heartbeats with ${running}`);
    const slots = JSON.parse(readFileSync(join(flash, 'slots.json'), 'utf8')) as { trial: unknown };
    assert.equal(slots.trial, null, `${what}: no trial left pending`);
    t.diagnostic(`power cut ${what}: the node runs ${running}; the gateway says ${end.stage}${end.error ? `: ${end.error}` : ''}`);
    version = running;
  }
  assert.equal(runner.cuts, 4);
  recordFigure({
    kind: 'fault',
    name: 'host runner on vcan0: power cut (SIGKILL) at each step of a firmware update',
    survived: '4 of 4 steps: a whole firmware booted, the gateway told which',
  });
});

test("on a bus emulated at 125 and at 500 kbit/s: a whole-firmware transfer keeps to its share, and the other sockets' report latency stays within 2x of idle", {
  timeout: 2_400_000,
}, async (t) => {
  const share = 0.5;
  await emulateBus(125_000);
  t.after(() => restorePlainVcan());
  const { tg, statuses } = await rig(t, { bitrate: 125_000 }, ['--set', 'update_confirm_s=120'], { bus_share: share });

  // Three other sockets report every 100 ms, timed from their send to the kernel's receive timestamp
  // (report-latency-probe.py, a process of its own); an observer counts the transfer's frames.
  const probe = spawn('/usr/bin/python3', [PROBE, '--channel', IFACE, '--nodes', '2,3,4', '--period-ms', '100', '--seconds', '100000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => void probe.kill('SIGTERM'));
  const latencies: { sent: number; ms: number }[] = [];
  createInterface({ input: probe.stdout! }).on('line', (line) => latencies.push(JSON.parse(line) as { sent: number; ms: number }));
  const observer = await openTransport();
  let transferFrames = 0;
  observer.on('frame', (f) => {
    if (f.id >= 0x780) transferFrames++;
  });

  const measure = async (bitrate: number, to: string) => {
    const idleStart = Date.now() / 1000;
    await new Promise((r) => setTimeout(r, 20_000));
    const idleEnd = Date.now() / 1000;
    const framesBefore = transferFrames;
    await update(tg, bundleOf(to, key, true)); // every file changed: the whole firmware crosses the bus
    await waitFor(() => statuses.some((s) => s.to === to && s.stage === 'transferring'), PATIENCE_MS, 'the transfer started');
    const start = Date.now() / 1000;
    await waitFor(
      () => statuses.some((s) => s.to === to && ['installing', 'confirming', 'installed', 'failed'].includes(s.stage)),
      1_500_000,
      'the transfer done',
    );
    const stop = Date.now() / 1000;
    const frames = transferFrames - framesBefore;
    const end = await ended(statuses, to);
    assert.equal(end.stage, 'installed', end.error);
    const idle = latencies.filter((l) => l.sent > idleStart && l.sent < idleEnd).map((l) => l.ms);
    const busy = latencies.filter((l) => l.sent > start && l.sent < stop).map((l) => l.ms);
    // The emulated bus hands a frame over as soon as its token bucket allows: the frame's own time on
    // the wire (135 bits at worst) is not in the measured figures; a real bus always adds it.
    const wireMs = (frameBits(8) / bitrate) * 1000;
    const figure = {
      bitrate,
      configured_share: share,
      bundle_bytes: end.totalBytes,
      transfer_s: Math.round((stop - start) * 10) / 10,
      update_s: Math.round((Date.parse(end.finishedAt!) / 1000 - start) * 10) / 10,
      transfer_frames: frames,
      measured_bus_share: Math.round(((frames * frameBits(8)) / ((stop - start) * bitrate)) * 1000) / 1000,
      node_block_size: end.nodeBlockSize,
      wire_ms: Math.round(wireMs * 100) / 100,
      idle_p50_ms: percentile(idle, 0.5)!,
      idle_p95_ms: percentile(idle, 0.95)!,
      transfer_p50_ms: percentile(busy, 0.5)!,
      transfer_p95_ms: percentile(busy, 0.95)!,
      transfer_max_ms: percentile(busy, 1)!,
      reports_idle: idle.length,
      reports_during: busy.length,
    };
    t.diagnostic(`firmware transfer on a bus emulated at ${bitrate / 1000} kbit/s: ${JSON.stringify(figure)}`);
    assert.ok(idle.length > 300 && busy.length > 100, `enough reports timed: ${idle.length} idle, ${busy.length} during`);
    assert.ok(figure.measured_bus_share <= share * 1.1, `the transfer kept to its share: ${figure.measured_bus_share}`);
    assert.ok(
      figure.transfer_p50_ms + wireMs <= 2 * (figure.idle_p50_ms + wireMs),
      `report latency during the transfer (median ${figure.transfer_p50_ms} ms + ${wireMs.toFixed(2)} ms on the wire) within 2x of idle (${figure.idle_p50_ms} ms + the same)`,
    );
  };

  await measure(125_000, '1.1');
  // Same bus at 500 kbit/s: the token bucket's rate changes in place (sockets stay open), and the
  // gateway paces the next transfer to the new rate.
  await retimeBus(500_000);
  tg.gateway.parts.config.can.bitrate = 500_000;
  await measure(500_000, '1.2');
});
