// A port that another process holds at start-up (HTTP, the embedded broker): the daemon neither
// exits nor hangs. The bus, safety and storage run; health and the MQTT bridge say what is
// missing; binding is retried with back-off and succeeds once the port is free.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, writeDaemonConfig, type Daemon } from '../helpers/cli.js';
import { recordingClient, waitFor } from '../helpers/gateway.js';

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, port: (server.address() as { port: number }).port };
}

function daemonIn(t: { after: (fn: () => unknown) => void }, sections: Record<string, Record<string, unknown>>): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-busy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Commits every 200 ms (the default waits 30 s, for the SD card): the tests look for stored readings.
  return writeDaemonConfig(dir, { can: { sim: { report_period_ms: 200 } }, database: { flush_interval_ms: 200 }, ...sections }).then(
    (config) => {
      const daemon = startDaemon(['run', '--config', config]);
      t.after(() => daemon.kill());
      return daemon;
    },
  );
}

async function stops(daemon: Daemon): Promise<void> {
  daemon.child.kill('SIGTERM');
  const exit = await Promise.race([daemon.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 10_000))]);
  assert.deepEqual(exit, { code: 0, signal: null });
}

interface Health {
  status: string;
  problems?: string[];
  can: { up: boolean };
  database: { readings_written: number };
}

test('HTTP port taken: the daemon runs without it, says so on MQTT, and listens once the port is free', async (t) => {
  const held = await holdPort();
  const daemon = await daemonIn(t, { http: { port: held.port }, mqtt: { embedded_port: 0 } });
  const banner = await daemon.waitForLog((l) => typeof l.mqtt === 'string', 60_000);
  assert.equal(daemon.child.exitCode, null, 'still running');
  assert.ok(daemon.logs.some((l) => String(l.msg).startsWith(`cannot listen for HTTP on 127.0.0.1:${held.port}; retrying`)));

  const mqtt = await recordingClient(banner.mqtt as string, ['canplug/#']);
  t.after(() => mqtt.client.endAsync());
  const health = await waitFor(
    () => {
      const text = mqtt.messages.get('canplug/bridge/health');
      const body = text ? (JSON.parse(text) as { status: string; problems: string[] }) : undefined;
      return body?.status === 'degraded' && body;
    },
    10_000,
    'bridge/health degraded',
  );
  assert.equal(health.problems.length, 1);
  assert.match(health.problems[0], /^HTTP is not listening \(.*EADDRINUSE.*\); retrying$/);
  await waitFor(() => mqtt.messages.has('canplug/socket-1'), 5000, 'the bus is bridged');
  // Storage runs: the bridge's health check reports readings written.
  // Asked again until the first commit shows in the answer (one answer per request).
  const report = await waitFor(
    async () => {
      await mqtt.client.publishAsync('canplug/bridge/request/health_check', '');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const text = mqtt.messages.get('canplug/bridge/response/health_check');
      const data = text ? (JSON.parse(text) as { data: Health }).data : undefined;
      return data && data.database.readings_written > 0 && data;
    },
    10_000,
    'readings written',
  );
  assert.equal(report.can.up, true);

  held.server.close();
  await waitFor(
    async () => {
      const res = await fetch(`http://127.0.0.1:${held.port}/api/health`).catch(() => undefined);
      return res?.status === 200;
    },
    30_000,
    'HTTP listening once the port is free',
  );
  await waitFor(() => JSON.parse(mqtt.messages.get('canplug/bridge/health')!).status === 'ok', 5000, 'bridge/health ok');
  await stops(daemon);
});

test('embedded broker port taken: bus, safety and storage run, health says why, the broker starts once the port is free', async (t) => {
  const held = await holdPort();
  const daemon = await daemonIn(t, { mqtt: { embedded_port: held.port } });
  const banner = await daemon.waitForLog((l) => typeof l.rest === 'string', 60_000);
  const rest = new URL(banner.rest as string).origin;
  const health = await waitFor(
    async () => {
      const body = (await (await fetch(`${rest}/api/health`)).json()) as Health;
      return body.database.readings_written > 0 && body;
    },
    10_000,
    'readings stored without MQTT',
  );
  assert.equal(health.status, 'degraded');
  assert.equal(health.can.up, true);
  assert.ok(
    health.problems!.some((p) => /^the embedded MQTT broker is not listening \(.*port is in use.*\); retrying$/.test(p)),
    health.problems!.join('; '),
  );
  const devices = (await (await fetch(`${rest}/api/devices`)).json()) as { name: string; available: boolean }[];
  assert.ok(devices.some((d) => d.name === 'socket-1' && d.available));

  held.server.close();
  await waitFor(
    async () => ((await (await fetch(`${rest}/api/health`)).json()) as Health).status === 'ok',
    30_000,
    'healthy once the port is free',
  );
  const mqtt = await recordingClient(`mqtt://127.0.0.1:${held.port}`, ['canplug/bridge/state']);
  t.after(() => mqtt.client.endAsync());
  await waitFor(() => mqtt.messages.get('canplug/bridge/state') === 'online', 5000, 'the gateway on its own broker');
  await stops(daemon);
});
