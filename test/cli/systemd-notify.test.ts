import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceNotifier } from '../../src/cli/service-notifier.js';
import { silentLogger } from '../../src/log.js';
import { startDaemon, writeDaemonConfig } from '../helpers/cli.js';
import { waitFor } from '../helpers/gateway.js';
import { startBroker } from '../helpers/broker.js';
import { freePort } from '../helpers/mosquitto.js';
import { notifyTest, startNotifySocket } from '../helpers/notify-socket.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(
  'READY=1 only once CAN, database and MQTT are up; the watchdog is pinged until the process stalls; STOPPING=1 on SIGTERM',
  notifyTest(),
  async (t) => {
    const notify = await startNotifySocket();
    t.after(() => notify.stop());
    const dir = mkdtempSync(join(tmpdir(), 'canplug-notify-test-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // The broker is not there yet: the daemon must not claim to be ready.
    const port = await freePort();
    const config = await writeDaemonConfig(dir, {
      can: { sim: { nodes: [1, 2], report_period_ms: 500 } },
      mqtt: { url: `mqtt://127.0.0.1:${port}` },
    });
    const daemon = startDaemon(['run', '--config', config], { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '1000000' });
    t.after(() => daemon.kill());

    await daemon.waitForLog((l) => l.msg === 'not ready until the MQTT broker is reachable', 60_000);
    await waitFor(() => notify.with('EXTEND_TIMEOUT_USEC').length > 0, 10_000, 'start-up timeout extended while waiting');
    const waiting = notify.with('STATUS').map((m) => m.fields.STATUS);
    assert.ok(
      waiting.some((s) => s.startsWith(`waiting for the MQTT broker at mqtt://127.0.0.1:${port}`)),
      waiting.join(' | '),
    );
    assert.ok(notify.with('WATCHDOG', '1').length > 0, 'the watchdog is pinged during start-up too');
    assert.equal(notify.with('READY').length, 0, 'no READY=1 while the broker is unreachable');

    const broker = await startBroker({ port });
    t.after(() => broker.close());
    const [ready] = await waitFor(() => notify.with('READY', '1').length > 0 && notify.with('READY', '1'), 30_000, 'READY=1');
    const connected = await daemon.waitForLog((l) => l.msg === 'MQTT connected');
    const gatewayReady = await daemon.waitForLog((l) => l.msg === 'canplug ready');
    assert.ok(ready.t >= connected.time && ready.t >= gatewayReady.time, 'READY=1 came after MQTT connected and the gateway started');
    assert.match(ready.fields.STATUS, /^running: \d+ devices, MQTT mqtt:\/\/127\.0\.0\.1:\d+\/?, REST http:\/\/127\.0\.0\.1:\d+$/);

    // WatchdogSec=1s: a ping every 500 ms from the main loop; twice within 3 s, as before, without a fixed wait.
    const before = notify.with('WATCHDOG', '1').length;
    const pings = await waitFor(
      () => notify.with('WATCHDOG', '1').length - before >= 3 && notify.with('WATCHDOG', '1').slice(before),
      10_000,
      'three more pings',
    );
    assert.ok(pings[2].t - pings[0].t <= 3000, `two pings ${(pings[2].t - pings[0].t).toFixed(0)} ms apart in all, at most 3 s`);

    // A stalled process stops pinging, so systemd's watchdog fires (limit 1 s here).
    const stalledAt = Date.now();
    daemon.child.kill('SIGSTOP');
    await sleep(3500);
    const resumedAt = Date.now();
    daemon.child.kill('SIGCONT');
    const duringStall = notify.with('WATCHDOG', '1').filter((m) => m.t > stalledAt + 1000 && m.t < resumedAt); // a helper started just before may still land
    assert.deepEqual(duringStall, [], 'no ping while the process was stalled');
    await waitFor(() => notify.with('WATCHDOG', '1').some((m) => m.t > resumedAt), 10_000, 'pings again after the stall');

    daemon.child.kill('SIGTERM');
    const exit = await daemon.exited;
    assert.equal(exit.code, 0, daemon.stderr());
    assert.ok(notify.with('STOPPING', '1').length === 1, 'STOPPING=1 sent once');
  },
);

test('a blocked event loop stops the watchdog pings; they resume when it unblocks', notifyTest(), async (t) => {
  const notify = await startNotifySocket();
  t.after(() => notify.stop());
  // WatchdogSec=400ms: a ping every 200 ms.
  const notifier = new ServiceNotifier({
    log: silentLogger,
    env: { ...process.env, NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '400000', WATCHDOG_PID: String(process.pid) },
  });
  const stop = notifier.startWatchdog();
  t.after(stop);
  await waitFor(() => notify.with('WATCHDOG', '1').length >= 3, 15_000, 'three pings');

  const blockedAt = Date.now();
  while (Date.now() - blockedAt < 2500) {
    // the main loop is stuck, as in a hung daemon
  }
  const unblockedAt = Date.now();
  await waitFor(() => notify.with('WATCHDOG', '1').some((m) => m.t > unblockedAt), 10_000, 'a ping after the loop unblocked');
  // One ping spawned just before the block may still land in its first moments.
  const during = notify.with('WATCHDOG', '1').filter((m) => m.t > blockedAt + 1000 && m.t < unblockedAt);
  assert.deepEqual(during, [], 'no ping while the loop was blocked (systemd would have restarted us after 400 ms)');
});

test('the watchdog is left alone when systemd meant it for another process, and nothing is sent outside systemd', async () => {
  const other = new ServiceNotifier({
    log: silentLogger,
    env: { NOTIFY_SOCKET: '/nonexistent', WATCHDOG_USEC: '1000000', WATCHDOG_PID: String(process.pid + 1) },
  });
  assert.equal(other.watchdogMs(), undefined);
  const mine = new ServiceNotifier({
    log: silentLogger,
    env: { NOTIFY_SOCKET: '/nonexistent', WATCHDOG_USEC: '1000000', WATCHDOG_PID: String(process.pid) },
  });
  assert.equal(mine.watchdogMs(), 1000);
  const outside = new ServiceNotifier({ log: silentLogger, env: { WATCHDOG_USEC: '1000000' } });
  assert.equal(outside.enabled, false);
  assert.equal(outside.watchdogMs(), undefined);
  await outside.ready('never sent'); // resolves without a helper process
});
