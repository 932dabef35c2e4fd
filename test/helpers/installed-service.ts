/**
 * The installed canplug service for the install tests: started in a throwaway root as its unit
 * starts it (test/helpers/systemd-unit.ts), with a real notify socket (ready is READY=1, as for
 * systemd with Type=notify) and a real Mosquitto; its JSON log lines collected; stopped with
 * SIGTERM as `systemctl stop` does.
 */
import { chmodSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { startMosquitto } from './mosquitto.js';
import { startNotifySocket, type NotifySocket } from './notify-socket.js';
import { parseService, serviceCommand } from './systemd-unit.js';
import type { ThrowawayRoot } from './throwaway-root.js';

export interface InstalledService {
  child: ChildProcess;
  notify: NotifySocket;
  /** http://127.0.0.1:<port>, the REST API and dashboard. */
  base: string;
  logs: { msg?: string; [key: string]: unknown }[];
  /** SIGTERM; resolves with the exit code (null when killed after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number | null>;
}

const until = async (what: string, check: () => boolean, timeoutMs: number, context: () => string) => {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what} within ${timeoutMs} ms\n${context()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/**
 * Starts the unit at `unitPath` in `root`. No CAN HAT, no Home Assistant here: the environment a
 * drop-in would set puts the daemon on the simulated bus, a test broker and a free port.
 */
export async function startInstalledService(
  root: ThrowawayRoot,
  unitPath: string,
  t: { after: (fn: () => unknown) => void },
): Promise<InstalledService> {
  const unit = parseService(readFileSync(unitPath, 'utf8'));
  const broker = await startMosquitto();
  t.after(() => broker.close());
  const notify = await startNotifySocket();
  t.after(() => notify.stop());
  // systemd's notify socket is writable by every service user; so must this one be.
  chmodSync(dirname(notify.path), 0o755);
  chmodSync(notify.path, 0o777);

  const child = root.spawn(
    serviceCommand(unit, {
      NOTIFY_SOCKET: notify.path,
      CANPLUG_CAN_TRANSPORT: 'sim',
      CANPLUG_MQTT_URL: broker.url,
      CANPLUG_HTTP_HOST: '127.0.0.1',
      CANPLUG_HTTP_PORT: '0',
      CANPLUG_UDP_PORT: '0',
    }),
  );
  const logs: InstalledService['logs'] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as InstalledService['logs'][number]);
    } catch {
      logs.push({ msg: line });
    }
  });
  let exitCode: number | null | undefined;
  child.on('exit', (code) => (exitCode = code));
  t.after(() => child.kill('SIGKILL'));
  const context = () => `exit ${exitCode}; log:\n${logs.map((l) => l.msg).join('\n')}\nstderr:\n${stderr}`;

  // Type=notify: systemd counts the service as started at READY=1 (after CAN, database and MQTT).
  await until('READY=1', () => notify.with('READY', '1').length > 0 || exitCode !== undefined, 120_000, context);
  if (exitCode !== undefined) throw new Error(`the service exited before READY=1\n${context()}`);
  const listening = logs.map((l) => /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(l.msg ?? '')).find(Boolean);
  if (!listening) throw new Error(`no "Server listening" line\n${context()}`);

  return {
    child,
    notify,
    base: listening[1],
    logs,
    async stop(timeoutMs = 15_000) {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      // TimeoutStopSec=15s: systemd kills what is still running after that.
      await until('exit after SIGTERM', () => exitCode !== undefined, timeoutMs, context).catch(() => child.kill('SIGKILL'));
      return exitCode ?? null;
    },
  };
}
