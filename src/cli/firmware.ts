/**
 * `canplug firmware build|key|update` (docs/firmware-updates.md). `build` signs a bundle of the
 * firmware folder with the gateway's key; `update` asks the running daemon to install it (REST) and
 * shows each socket's progress from the live stream: the daemon does the transfer, so its safety
 * guards, its event log and Home Assistant all see the update.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import WebSocket from 'ws';
import { LIVE_PROTOCOL, type LiveMessage } from '../contracts/live.js';
import { tokenPath } from '../api/token.js';
import type { Config } from '../config/config.js';
import {
  BundleError,
  buildBundle,
  loadOrCreateSigningKey,
  publicKeyHex,
  readBundleFile,
  writeBundleFile,
  type Bundle,
} from '../gateway/firmware-bundle.js';
import type { FirmwareStatus } from '../contracts/firmware.js';
import { firmwarePaths } from '../gateway/firmware-updater.js';
import { CliError, configOption, EXIT, EXIT_CODES_HELP, parseInteger, readConfig, requireDataOwner } from './common.js';

const FIRMWARE_DIR = fileURLToPath(new URL('../../firmware', import.meta.url));
const DONE = new Set(['installed', 'failed']);

function bundleError<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof BundleError) throw new CliError(error.message, EXIT.usage);
    throw error;
  }
}

/** The daemon's address from the config (http.host 0.0.0.0 is reached on loopback). */
function daemonUrl(config: Config, url: string | undefined): string {
  if (url) return url.replace(/\/$/, '');
  const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`;
}

interface Target {
  name: string;
}

async function api<T>(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new CliError(
      `cannot reach the canplug daemon at ${base} (${(error as Error).cause ?? (error as Error).message}); is it running? (--url)`,
    );
  }
  return { status: response.status, json: (await response.json()) as T };
}

/** The live stream, open before the updates start so that no step is missed. */
function openLive(base: string, token: string): Promise<WebSocket> {
  const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/api/live`, [LIVE_PROTOCOL, `bearer.${token}`]);
  return new Promise((resolve, reject) => {
    socket.once('message', () => resolve(socket)); // the snapshot: the stream is ready
    socket.once('error', (error) => reject(new CliError(`cannot open the live stream at ${base}: ${error.message}`)));
    socket.once('close', (code, reason) => reject(new CliError(`the live stream closed: ${code} ${reason.toString()}`)));
  });
}

class Progress {
  private readonly bars = new Map<string, SingleBar>();
  private readonly lastStage = new Map<string, string>();
  private readonly multi: MultiBar | undefined;

  constructor(tty: boolean) {
    if (tty)
      this.multi = new MultiBar(
        { format: '{device} [{bar}] {percentage}% {stage} {detail}', hideCursor: true, clearOnComplete: false },
        Presets.shades_classic,
      );
  }

  show(s: FirmwareStatus): void {
    const detail =
      s.stage === 'failed'
        ? s.error
        : s.stage === 'transferring'
          ? `${Math.round(s.sentBytes / 1024)}/${Math.round(s.totalBytes / 1024)} KiB`
          : `${s.from ?? '?'} -> ${s.to}`;
    if (this.multi) {
      const payload = { device: s.device.padEnd(12), stage: s.stage, detail };
      const bar = this.bars.get(s.key) ?? this.multi.create(100, 0, payload);
      this.bars.set(s.key, bar);
      bar.update(s.progress, payload);
      return;
    }
    if (this.lastStage.get(s.key) === s.stage) return;
    this.lastStage.set(s.key, s.stage);
    process.stdout.write(`${s.device}: ${s.stage}${detail ? ` (${detail})` : ''}\n`);
  }

  stop(): void {
    this.multi?.stop();
  }
}

async function update(config: Config, target: string, options: { bundle?: string; url?: string; timeoutS: number }): Promise<number> {
  const base = daemonUrl(config, options.url);
  const file = tokenPath(config.database.path, config.http.token_file);
  const token = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  const bundle: Bundle | undefined = options.bundle ? bundleError(() => readBundleFile(options.bundle!)) : undefined;
  let targets: Target[];
  if (target === 'all') {
    const devices = await api<{ name: string; kind: string; available: boolean }[]>(base, token, 'GET', '/api/devices');
    targets = devices.json.filter((d) => d.kind === 'can' && d.available);
    if (targets.length === 0) throw new CliError('no CAN socket is online', EXIT.failure);
  } else targets = [{ name: target }];

  const live = await openLive(base, token);
  const statuses = new Map<string, FirmwareStatus>();
  const progress = new Progress(Boolean(process.stdout.isTTY));
  let settle!: { resolve: () => void; reject: (error: Error) => void };
  const finished = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const allDone = () => [...statuses.values()].every((s) => DONE.has(s.stage));
  live.on('message', (data) => {
    const message = JSON.parse(data.toString()) as LiveMessage;
    if (message.type !== 'firmware' || !statuses.has(message.status.key)) return;
    statuses.set(message.status.key, message.status);
    progress.show(message.status);
    if (allDone()) settle.resolve();
  });
  live.on('close', () => settle.reject(new CliError('the daemon closed the live stream (stopping?) before the updates ended')));
  const timer = setTimeout(
    () => settle.reject(new CliError(`the updates did not end within ${options.timeoutS} s`)),
    options.timeoutS * 1000,
  );
  let refused = 0;
  try {
    for (const t of targets) {
      const answer = await api<FirmwareStatus & { error?: string }>(
        base,
        token,
        'POST',
        `/api/devices/${encodeURIComponent(t.name)}/firmware`,
        bundle ? { bundle } : {},
      );
      if (answer.status !== 202) {
        process.stderr.write(`canplug: ${t.name}: ${answer.json.error ?? `HTTP ${answer.status}`}\n`);
        refused++;
        continue;
      }
      statuses.set(answer.json.key, answer.json);
      progress.show(answer.json);
    }
    if (statuses.size > 0 && !allDone()) await finished;
  } finally {
    clearTimeout(timer);
    progress.stop();
    live.removeAllListeners('close');
    live.close();
  }
  const failed = [...statuses.values()].filter((s) => s.stage === 'failed');
  for (const s of statuses.values()) {
    process.stdout.write(
      s.stage === 'installed'
        ? `${s.device}: firmware ${s.to} installed (was ${s.from ?? '?'})\n`
        : `${s.device}: update to ${s.to} failed: ${s.error}\n`,
    );
  }
  return failed.length > 0 || refused > 0 ? EXIT.refused : EXIT.ok;
}

export function addFirmwareCommands(program: Command): void {
  const firmware = program.command('firmware').description("the sockets' firmware: sign a bundle, update sockets over the CAN bus");

  firmware
    .command('build')
    .description('bundle and sign the firmware folder (canplug/ and the update key) for updates')
    .option('-s, --source <dir>', 'firmware folder with canplug/ in it', FIRMWARE_DIR)
    .option('-o, --out <file>', 'where to write the bundle (default: firmware.bundle, the one the daemon offers)')
    .addHelpText(
      'after',
      `\nSigns with firmware.key (made on first use, mode 0600; keep a copy: sockets accept only bundles signed by it).\n${EXIT_CODES_HELP}`,
    )
    .action((opts: { source: string; out?: string }, command: Command) => {
      const { config } = readConfig(configOption(command));
      const paths = firmwarePaths(config);
      const out = opts.out ?? paths.bundle;
      requireDataOwner(out, 'firmware build');
      const { key, created } = bundleError(() => loadOrCreateSigningKey(paths.key));
      const bundle = bundleError(() => buildBundle(opts.source, key));
      writeBundleFile(out, bundle);
      const files = Object.keys(bundle.files).length;
      if (created) process.stdout.write(`new signing key in ${paths.key}; flash its public half to sockets once (canplug firmware key)\n`);
      process.stdout.write(`firmware ${bundle.version}: ${files} files signed into ${out}\n`);
    });

  firmware
    .command('key')
    .description('print the public half of the signing key: the update_key.pub a socket needs once, flashed by hand')
    .option('-o, --out <file>', 'write it to this file (e.g. update_key.pub for mpremote cp)')
    .action(async (opts: { out?: string }, command: Command) => {
      const { config } = readConfig(configOption(command));
      const paths = firmwarePaths(config);
      const { key } = bundleError(() => loadOrCreateSigningKey(paths.key));
      const text = `${publicKeyHex(key)}\n`;
      if (opts.out) (await import('node:fs')).writeFileSync(opts.out, text);
      process.stdout.write(opts.out ? `public key written to ${opts.out}\n` : text);
    });

  firmware
    .command('update')
    .description('install firmware on a socket (or all online ones, one at a time) through the running daemon, with progress')
    .argument('<device>', 'device name, node id or key; "all" for every online CAN socket')
    .option('-b, --bundle <file>', 'a bundle from "firmware build" (default: the daemon\'s, firmware.bundle)')
    .option('-u, --url <url>', 'the daemon (default: from http.host and http.port in the config)')
    .option('-t, --timeout <s>', 'give up waiting after this long', '3600')
    .addHelpText(
      'after',
      `\nThe token comes from http.token_file (default: "token" beside the database).\nExit 0: every update installed; 3: one was refused by the daemon or the socket, or rolled back.\n${EXIT_CODES_HELP}`,
    )
    .action(async (device: string, opts: { bundle?: string; url?: string; timeout: string }, command: Command) => {
      const { config } = readConfig(configOption(command));
      const timeoutS = parseInteger('--timeout', opts.timeout, 10, 86400);
      process.exitCode = await update(config, device, { bundle: opts.bundle, url: opts.url, timeoutS });
    });
}
