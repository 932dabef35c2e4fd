// Two "Wi-Fi plugs" whose names collide at the 64-character limit, sent as real datagrams to a real
// daemon: it must name both and keep answering, stop on SIGTERM, and after a restart (the first
// plug stored) take a third colliding plug the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, writeDaemonConfig } from '../helpers/cli.js';
import { waitFor } from '../helpers/gateway.js';
import { freeUdpPort, sendDatagram } from '../helpers/wifi-plug.js';

const NAME = 'K'.repeat(64);

async function names(rest: string): Promise<string[]> {
  const response = await fetch(`${rest}/api/devices`, { signal: AbortSignal.timeout(3000) });
  return ((await response.json()) as { name: string; kind: string }[]).filter((d) => d.kind === 'wifi').map((d) => d.name);
}

async function runUntilStopped(
  config: string,
  udp: number,
  t: { after: (fn: () => unknown) => void },
  chips: number[],
  expected: string[],
): Promise<void> {
  const daemon = startDaemon(['run', '--config', config]);
  t.after(() => daemon.kill());
  const banner = await daemon.waitForLog((l) => typeof l.rest === 'string', 60_000);
  const rest = new URL(banner.rest as string).origin;
  await daemon.waitForLog((l) => l.msg === 'listening for Wi-Fi plug broadcasts');
  for (const chip of chips) await sendDatagram(udp, `${chip}:${NAME}&1:0.00&2:0.00`);
  const seen = await waitFor(
    async () => {
      const now = await names(rest);
      return now.length === expected.length && now;
    },
    10_000,
    `${expected.length} plugs named`,
  );
  assert.deepEqual(seen.sort(), [...expected].sort());
  const health = await fetch(`${rest}/api/health`, { signal: AbortSignal.timeout(3000) });
  assert.ok(health.status === 200 || health.status === 503, 'health answers');
  daemon.child.kill('SIGTERM');
  const exit = await Promise.race([daemon.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 10_000))]);
  assert.deepEqual(exit, { code: 0, signal: null }, 'SIGTERM stops it');
}

test('plug names colliding at the 64-character limit get short suffixes, before and after a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-names-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const udp = await freeUdpPort();
  const config = await writeDaemonConfig(dir, { udp: { port: udp, host: '127.0.0.1' } });
  const second = `${'K'.repeat(62)}-2`;
  await runUntilStopped(config, udp, t, [1001, 1002], [NAME, second]);
  // The first two are stored now: the restart loads them, and one more datagram must not hang it.
  await runUntilStopped(config, udp, t, [1003], [NAME, second, `${'K'.repeat(62)}-3`]);
});
