/**
 * A stand-in for systemd's notification socket: an AF_UNIX datagram listener (Python's standard
 * library, since Node has no such sockets) that records every message with its arrival time and
 * answers systemd-notify's BARRIER=1 the way systemd does, by closing the file descriptor it got.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const LISTENER = `
import array, json, os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"ready": True}), flush=True)
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % 4])
            for fd in fds:
                os.close(fd)
    print(json.dumps({"t": time.time() * 1000, "msg": data.decode()}), flush=True)
`;

const PYTHON = '/usr/bin/python3';

/**
 * Options for `test()`: skipped with the reason where the listener (Python) or the daemon's
 * `systemd-notify` is missing (a machine without systemd, such as a bare container).
 */
export function notifyTest(): { skip?: string } {
  if (!existsSync(PYTHON)) return { skip: `${PYTHON} is missing (the notification socket's listener; apt-get install python3)` };
  if (spawnSync('sh', ['-c', 'command -v systemd-notify']).status !== 0)
    return { skip: 'systemd-notify is not installed (apt-get install systemd)' };
  return {};
}

export interface NotifyMessage {
  /** Arrival time, ms since the epoch, taken by the listener. */
  t: number;
  /** The assignments, e.g. { READY: '1', STATUS: '...' }. */
  fields: Record<string, string>;
}

export interface NotifySocket {
  path: string;
  messages: NotifyMessage[];
  with(key: string, value?: string): NotifyMessage[];
  stop(): void;
}

export async function startNotifySocket(): Promise<NotifySocket> {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-notify-'));
  const path = join(dir, 'notify.sock');
  const child = spawn(PYTHON, ['-c', LISTENER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: NotifyMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`notify listener exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as { ready?: boolean; t: number; msg: string };
      if (parsed.ready) return resolve();
      const fields = Object.fromEntries(
        parsed.msg
          .split('\n')
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      messages.push({ t: parsed.t, fields });
    });
  });
  return {
    path,
    messages,
    with: (key, value) => messages.filter((m) => key in m.fields && (value === undefined || m.fields[key] === value)),
    stop: () => {
      child.removeAllListeners('exit');
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
