/** A real Mosquitto broker (Debian's) on a free loopback port, for tests that outlive the daemon's embedded broker. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './gateway.js';

export interface Mosquitto {
  port: number;
  url: string;
  /** Freezes the broker (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

/** Starts mosquitto on `port` (default: a free one) and waits until it accepts connections. */
export async function startMosquitto(port?: number): Promise<Mosquitto> {
  const p = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'canplug-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${p} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const { connect } = await import('node:net');
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(p, '127.0.0.1', () => (socket.destroy(), resolve(true)));
        socket.on('error', () => resolve(false));
      }),
    5000,
    `mosquitto on port ${p}`,
  );
  return {
    port: p,
    url: `mqtt://127.0.0.1:${p}`,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
      }
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
