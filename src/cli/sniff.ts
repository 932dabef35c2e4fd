/**
 * `canplug sniff`: live frames decoded in protocol terms, like candump but "node 3 power 230.1 V ...".
 * Frames that are not protocol frames are shown raw with the reason, never dropped silently.
 */
import type { Writable } from 'node:stream';
import { type Command, Option } from 'commander';
import { decode } from '../can/codec.js';
import { formatFrame, type CanFrame } from '../can/frame.js';
import { decodeSeed } from '../can/seed-codec.js';
import type { Transport } from '../can/transport.js';
import { silentLogger } from '../log.js';
import { configOption, EXIT_CODES_HELP, busTransport, parseInteger, readConfig } from './common.js';
import { formatMessage } from './format.js';

export interface SniffOptions {
  protocol: 'v1' | 'seed';
  /** JSON lines instead of text. */
  json?: boolean;
  /** Also print each frame in candump notation. */
  raw?: boolean;
  /** Only frames from or to this node. */
  node?: number;
  /** Stop after this many frames shown. */
  count?: number;
  now?: () => Date;
}

export interface SniffSummary {
  shown: number;
  unknown: number;
  malformed: number;
  busErrors: number;
}

/**
 * Starts `transport` and prints its frames to `out` until `stop()` or `count` frames; `done`
 * resolves then, with the transport stopped.
 */
export async function sniff(
  transport: Transport,
  out: Writable,
  options: SniffOptions,
): Promise<{ done: Promise<SniffSummary>; stop: () => void }> {
  const summary: SniffSummary = { shown: 0, unknown: 0, malformed: 0, busErrors: 0 };
  const now = options.now ?? (() => new Date());
  let finish: (s: SniffSummary) => void = () => {};
  const done = new Promise<SniffSummary>((resolve) => (finish = resolve));
  const time = () => now().toISOString().slice(11, 23);

  const write = (text: string, record: Record<string, unknown>) => {
    out.write(options.json ? `${JSON.stringify({ ts: now().toISOString(), ...record })}\n` : `${time()}  ${text}\n`);
  };
  const onFrame = (frame: CanFrame) => {
    const result = options.protocol === 'v1' ? decode(frame) : decodeSeed(frame);
    const raw = formatFrame(frame);
    if (!result.ok) {
      summary[result.reason]++;
      if (options.node !== undefined) return;
      write(`${'?'.padEnd(8)}${result.reason.padEnd(12)} ${raw}  (${result.detail})`, {
        frame: raw,
        error: result.reason,
        detail: result.detail,
      });
    } else {
      const message = result.message;
      if (options.node !== undefined && !('node' in message && message.node === options.node)) return;
      write(options.raw ? `${raw.padEnd(20)}${formatMessage(message)}` : formatMessage(message), { frame: raw, ...message });
    }
    summary.shown++;
    if (options.count !== undefined && summary.shown >= options.count) stop();
  };
  const onBusError = (kind: string) => {
    summary.busErrors++;
    write(`${'bus'.padEnd(8)}${'error'.padEnd(12)} ${kind}`, { error: 'bus', detail: kind });
  };
  const onDown = (reason: string) => write(`${'bus'.padEnd(8)}${'down'.padEnd(12)} ${reason}`, { bus: 'down', detail: reason });
  const onUp = () => write(`${'bus'.padEnd(8)}${'up'.padEnd(12)}`, { bus: 'up' });
  transport.on('frame', onFrame);
  transport.on('busError', onBusError);
  transport.on('down', onDown);

  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    transport.off('frame', onFrame);
    transport.off('busError', onBusError);
    transport.off('down', onDown);
    transport.off('up', onUp);
    void transport.stop().finally(() => finish(summary));
  };
  await transport.start();
  transport.on('up', onUp); // after start: only a bus coming back is news
  return { done, stop };
}

export function addSniffCommand(program: Command): void {
  program
    .command('sniff')
    .description('print live CAN frames decoded in protocol terms (like candump, but "node 3 power 230.1 V ...")')
    .option('-i, --interface <name>', 'CAN interface, e.g. can0 or vcan0 (default: can.interface from the config)')
    .addOption(
      new Option('-p, --protocol <protocol>', 'protocol to decode (default: can.protocol from the config)').choices(['v1', 'seed']),
    )
    .option('-n, --node <id>', 'only frames from or to this node')
    .option('--count <n>', 'stop after this many frames')
    .option('--raw', 'also print each frame in candump notation')
    .option('--json', 'one JSON object per line')
    .addHelpText('after', `\nStops on Ctrl-C (exit 0) and prints a summary on stderr.\n${EXIT_CODES_HELP}`)
    .action(
      async (
        opts: { interface?: string; protocol?: 'v1' | 'seed'; node?: string; count?: string; raw?: boolean; json?: boolean },
        command: Command,
      ) => {
        const { config } = readConfig(configOption(command));
        const node = opts.node === undefined ? undefined : parseInteger('--node', opts.node, 1, 63);
        const count = opts.count === undefined ? undefined : parseInteger('--count', opts.count, 1, Number.MAX_SAFE_INTEGER);
        const transport = await busTransport(config, opts.interface, silentLogger, 'monitor');
        const session = await sniff(transport, process.stdout, {
          protocol: opts.protocol ?? config.can.protocol,
          json: opts.json,
          raw: opts.raw,
          node,
          count,
        });
        // `canplug sniff | head` closes the pipe: stop quietly instead of dying on EPIPE.
        process.stdout.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code === 'EPIPE') session.stop();
          else throw error;
        });
        process.once('SIGINT', () => session.stop());
        process.once('SIGTERM', () => session.stop());
        const summary = await session.done;
        process.stderr.write(
          `${summary.shown} frames shown, ${summary.unknown} unknown, ${summary.malformed} malformed, ${summary.busErrors} bus errors\n`,
        );
      },
    );
}
