/** What the `canplug` commands share: exit codes, config loading, errors, the CAN transport. */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { createTransport, type TransportRole } from '../can/create-transport.js';
import type { Transport } from '../can/transport.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import type { Logger } from '../log.js';

/** Exit codes of every command (docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** Something failed at run time: database, bus, I/O, a shutdown over 5 s. */
  failure: 1,
  /** Bad arguments or configuration: nothing was done. */
  usage: 2,
  /** `send`: the node answered with an error (refused by an interlock, bad argument...); `firmware update`: an update was refused or failed. */
  refused: 3,
  /** `send`: the node did not answer in time. */
  timeout: 4,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  runtime failure (database, CAN bus, I/O; shutdown over 5 s)
  2  bad arguments or configuration (nothing was done)
  3  send: the node refused the command (interlock, bad argument, unknown opcode, failed);
     firmware update: an update was refused, failed or rolled back
  4  send: the node did not answer in time`;

/** An error that ends the command with a message on stderr and the given exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The global `--config` option, wherever the command sits in the tree. */
export function configOption(command: Command): string | undefined {
  return command.optsWithGlobals<{ config?: string }>().config;
}

/** Loads the config the daemon would use (file + CANPLUG_* overrides); a problem is a usage error. */
export function readConfig(path: string | undefined): { config: Config; path: string | undefined } {
  try {
    return loadConfig({ path });
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, EXIT.usage);
    throw error;
  }
}

/**
 * The bus for `sim`, `sniff` and `send` (not started: each of them starts and stops it). They run
 * as their own process, so the in-process simulated bus would be empty: they need a real or
 * virtual interface (`--interface`, or can.transport: socketcan).
 */
export async function busTransport(
  config: Config,
  iface: string | undefined,
  log: Logger,
  role: TransportRole = 'gateway',
): Promise<Transport> {
  if (!iface && config.can.transport !== 'socketcan') {
    throw new CliError(
      'this command needs a CAN interface: pass --interface can0 (or vcan0), or set can.transport: socketcan in the config',
      EXIT.usage,
    );
  }
  return createTransport({ ...config.can, transport: 'socketcan', interface: iface ?? config.can.interface }, log, undefined, role);
}

/** Parses a positive integer argument; the message names the argument. */
export function parseInteger(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new CliError(`${name} must be an integer from ${min} to ${max}, got "${text}"`, EXIT.usage);
  }
  return value;
}

/** Node ids such as `1,2,5-8`. */
export function parseNodeList(text: string): number[] {
  const nodes = new Set<number>();
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [from, to] = [parseInteger('node id', range[1], 1, 63), parseInteger('node id', range[2], 1, 63)];
      if (from > to) throw new CliError(`node range ${part} runs backwards`, EXIT.usage);
      for (let n = from; n <= to; n++) nodes.add(n);
    } else nodes.add(parseInteger('node id', part, 1, 63));
  }
  if (nodes.size === 0) throw new CliError('no node ids given', EXIT.usage);
  return [...nodes].sort((a, b) => a - b);
}

function userName(uid: number): string {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(uid));
    return line?.split(':')[0] ?? String(uid);
  } catch {
    return String(uid);
  }
}

/**
 * Commands that write into the data directory refuse to run as root when it belongs to the service
 * user: files SQLite or the token store create as root (the database's -wal/-shm, the token) would
 * lock the daemon out of its own data.
 */
export function requireDataOwner(file: string, command: string): void {
  if (process.getuid?.() !== 0) return;
  let owner: number;
  try {
    owner = statSync(dirname(resolve(file))).uid;
  } catch {
    return; // nothing there yet: whoever runs this creates it
  }
  if (owner === 0) return;
  const name = userName(owner);
  throw new CliError(
    `${dirname(resolve(file))} belongs to ${name}; run this as that user so the files it creates stay usable by the daemon:\n` +
      `  sudo -u ${name} canplug ${command}`,
    EXIT.usage,
  );
}
