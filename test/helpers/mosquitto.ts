/**
 * A real Mosquitto broker for a test: Debian's `mosquitto`, started on a free port on 127.0.0.1 with a
 * generated config (anonymous, a password file, or TLS with client certificates), stopped for sure when
 * the test ends, and restartable on the same port. When mosquitto is not installed the tests using it
 * are skipped with the reason, unless CANPLUG_REQUIRE_MOSQUITTO=1 (CI), where they fail. Tests in which
 * the broker is not what is tested use `startBroker()` (broker.ts), which falls back to aedes.
 * CANPLUG_MOSQUITTO names the binary (an empty or missing path: taken as not installed).
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SEARCH = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];
const find = (name: string) =>
  SEARCH.filter((dir) => dir !== '')
    .map((dir) => join(dir, name))
    .find((path) => existsSync(path));
const override = process.env.CANPLUG_MOSQUITTO;
export const MOSQUITTO = override === undefined ? find('mosquitto') : existsSync(override) ? override : undefined;
const MOSQUITTO_PASSWD = find('mosquitto_passwd');
export const mosquittoRequired = process.env.CANPLUG_REQUIRE_MOSQUITTO === '1';

/** Options for `test()`: skipped with the reason when mosquitto is missing and not required. */
export function mosquittoTest(): { skip?: string } {
  if (MOSQUITTO || mosquittoRequired) return {};
  return {
    skip: 'mosquitto is not installed (apt-get install mosquitto mosquitto-clients); set CANPLUG_REQUIRE_MOSQUITTO=1 to fail instead',
  };
}

export interface MosquittoOptions {
  /** username -> password; anonymous clients are then refused. */
  users?: Record<string, string>;
  /** TLS listener requiring a client certificate signed by the CA. */
  tls?: { caFile: string; certFile: string; keyFile: string };
  /** A Mosquitto ACL file (acl_file). */
  aclFile?: string;
  /** More config lines (from an example config). */
  extraLines?: string[];
  /** Listen on this port (default: a free one). */
  port?: number;
}

export interface Mosquitto {
  /** What runs: 'mosquitto', or the aedes stand-in (broker.ts). */
  name: string;
  port: number;
  url: string;
  /** The broker's process id while it runs (the benchmarks read its CPU time). */
  readonly pid: number | undefined;
  /** Starts it again on the same port (no persistence: nothing retained survives); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops the process (SIGTERM, SIGKILL after 2 s); `stop('SIGKILL')` kills it outright, as a crash would. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it for good and removes its files: `t.after(() => broker.close())`. */
  close(): Promise<void>;
  /** Freezes the broker (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  resume(): void;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts a broker; the caller registers `t.after(() => broker.close())`. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  if (!MOSQUITTO)
    throw new Error(
      `mosquitto is not installed${mosquittoRequired ? ' but CANPLUG_REQUIRE_MOSQUITTO=1' : ''}: apt-get install mosquitto mosquitto-clients`,
    );
  const workDir = mkdtempSync(join(tmpdir(), 'canplug-mosquitto-'));
  const port = options.port ?? (await freePort());
  const lines = [`listener ${port} 127.0.0.1`, 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning'];
  // Run as root (containers, CI), mosquitto would switch to the `mosquitto` user and lose access to the temp dir.
  if (process.getuid?.() === 0) lines.push('user root');
  if (options.users) {
    if (!MOSQUITTO_PASSWD) throw new Error('mosquitto_passwd is not installed');
    const passwordFile = join(workDir, 'passwd');
    writeFileSync(passwordFile, '');
    for (const [user, password] of Object.entries(options.users)) execFileSync(MOSQUITTO_PASSWD, ['-b', passwordFile, user, password]);
    lines.push('allow_anonymous false', `password_file ${passwordFile}`);
  } else {
    lines.push('allow_anonymous true');
  }
  if (options.tls) {
    lines.push(
      `cafile ${options.tls.caFile}`,
      `certfile ${options.tls.certFile}`,
      `keyfile ${options.tls.keyFile}`,
      'require_certificate true',
    );
  }
  if (options.aclFile) lines.push(`acl_file ${options.aclFile}`);
  lines.push(...(options.extraLines ?? []));
  const confFile = join(workDir, 'mosquitto.conf');
  writeFileSync(confFile, `${lines.join('\n')}\n`);

  const url = `${options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`;
  return superviseBroker('mosquitto', [MOSQUITTO, '-c', confFile], port, url, () => rmSync(workDir, { recursive: true, force: true }));
}

/**
 * Runs a broker process (`command[0]` with the rest as arguments) listening on `port`: started now
 * and by `start()`, resolved once it accepts connections; `cleanup` runs after `close()`.
 */
export async function superviseBroker(name: string, command: string[], port: number, url: string, cleanup = () => {}): Promise<Mosquitto> {
  let child: ChildProcess | undefined;
  let stderr = '';
  const start = async () => {
    stderr = '';
    const proc = spawn(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    running.add(proc);
    proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let exited = false;
    proc.once('exit', () => {
      exited = true;
      running.delete(proc);
    });
    // Generous: a broker started through tsx on a loaded machine takes seconds.
    const deadline = Date.now() + 20_000;
    while (!(await accepts(port))) {
      if (exited) throw new Error(`${name} exited at start: ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`${name} did not accept connections on ${port} within 20 s: ${stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    name,
    port,
    url,
    get pid() {
      return child?.pid;
    },
    start,
    stop,
    close: async () => {
      child?.kill('SIGCONT');
      await stop();
      cleanup();
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
  };
}

export interface TestCertificates {
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A throw-away CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
export function makeCertificates(workDir: string): TestCertificates {
  const path = (name: string) => join(workDir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...newKey, '-keyout', path('ca.key'), '-out', path('ca.crt'), '-subj', '/CN=canplug test CA', '-days', '2');
  writeFileSync(path('server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [name, subject, ext] of [
    ['server', '/CN=127.0.0.1', ['-extfile', path('server.ext')]],
    ['client', '/CN=canplug', []],
  ] as const) {
    openssl('req', ...newKey, '-keyout', path(`${name}.key`), '-out', path(`${name}.csr`), '-subj', subject);
    openssl(
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path('ca.crt'),
      '-CAkey',
      path('ca.key'),
      '-CAcreateserial',
      '-out',
      path(`${name}.crt`),
      '-days',
      '2',
      ...ext,
    );
  }
  return {
    caFile: path('ca.crt'),
    serverCert: path('server.crt'),
    serverKey: path('server.key'),
    clientCert: path('client.crt'),
    clientKey: path('client.key'),
  };
}

/** True when the openssl command line is there (the TLS test needs it). */
export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
