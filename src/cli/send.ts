/**
 * `canplug send <node> <command> [args]`: one protocol command straight to a node, waiting for its
 * reply. A commissioning and diagnosis tool: it talks to the node, not through the daemon, so the
 * node's own interlock applies but the gateway's backup rules do not (everyday switching goes
 * through REST or MQTT).
 */
import type { Writable } from 'node:stream';
import { type Command, Option } from 'commander';
import { CanBus } from '../can/can-bus.js';
import { PowerOnState, validateCommand, type Command as NodeCommand } from '../can/codec.js';
import type { Transport } from '../can/transport.js';
import { Commands, type Reply } from '../gateway/commands.js';
import { CommandTimeoutError } from '../gateway/errors.js';
import { silentLogger } from '../log.js';
import { busTransport, CliError, configOption, EXIT, EXIT_CODES_HELP, parseInteger, readConfig } from './common.js';
import { formatCommand, formatStatus } from './format.js';

const USAGE = `commands:
  relay on|off|toggle                    switch the relay (a close is refused while an interlock is latched)
  report                                 send power, environment, energy and heartbeat now
  humidity-limit <limit %RH> <hysteresis %RH>
  reset-latch                            clear a humidity or over-power latch whose condition has cleared
  report-period <ms>                     100..60000
  identify [seconds]                     blink the status LED (default 10 s)
  power-limit <watts>                    0 = no limit
  power-on off|on|restore                relay state after a power cut`;

function choice<T extends string>(name: string, text: string | undefined, allowed: readonly T[]): T {
  if (text !== undefined && (allowed as readonly string[]).includes(text)) return text as T;
  throw new CliError(`${name} takes one of ${allowed.join(', ')}; got ${text === undefined ? 'nothing' : `"${text}"`}`, EXIT.usage);
}

/** Turns `relay on` or `humidity-limit 75 8` into a protocol command; a usage error says what is wrong. */
export function parseNodeCommand(words: string[]): NodeCommand {
  const [name, ...args] = words;
  const arg = (i: number, what: string, min: number, max: number) => {
    if (args[i] === undefined) throw new CliError(`${name} needs ${what}`, EXIT.usage);
    return parseInteger(what, args[i], min, max);
  };
  const relayWords = { on: 'close', off: 'open', toggle: 'toggle' } as const;
  let command: NodeCommand;
  switch (name) {
    case 'relay':
      command = { op: 'setRelay', action: relayWords[choice('relay', args[0], Object.keys(relayWords) as (keyof typeof relayWords)[])] };
      break;
    case 'report':
      command = { op: 'reportNow' };
      break;
    case 'humidity-limit':
      command = { op: 'setHumidityLimit', limit: arg(0, 'the limit in %RH', 1, 100), hysteresis: arg(1, 'the hysteresis in %RH', 0, 99) };
      break;
    case 'reset-latch':
      command = { op: 'resetLatch' };
      break;
    case 'report-period':
      command = { op: 'setReportPeriod', ms: arg(0, 'the period in ms', 100, 60000) };
      break;
    case 'identify':
      command = { op: 'identify', seconds: args[0] === undefined ? 10 : arg(0, 'seconds', 0, 255) };
      break;
    case 'power-limit':
      command = { op: 'setPowerLimit', watts: arg(0, 'the limit in W', 0, 65535) };
      break;
    case 'power-on':
      command = { op: 'setPowerOnState', state: choice('power-on', args[0], Object.keys(PowerOnState) as (keyof typeof PowerOnState)[]) };
      break;
    default:
      throw new CliError(`unknown command ${name === undefined ? '(none given)' : `"${name}"`}\n${USAGE}`, EXIT.usage);
  }
  const problem = validateCommand(command);
  if (problem) throw new CliError(problem, EXIT.usage);
  return command;
}

export interface SendOptions {
  timeoutMs: number;
  out: Writable;
}

/** Starts `transport`, sends `command` to `node`, prints the reply, stops; returns the exit code it stands for. */
export async function send(transport: Transport, node: number, command: NodeCommand, options: SendOptions): Promise<number> {
  const bus = new CanBus(transport, 'v1', silentLogger);
  const commands = new Commands(bus, options.timeoutMs);
  await bus.start();
  commands.start();
  let reply: Reply;
  try {
    reply = await commands.send(node, command);
  } catch (error) {
    if (error instanceof CommandTimeoutError) {
      options.out.write(`node ${node}: no answer to ${formatCommand(command)} within ${options.timeoutMs} ms\n`);
      return EXIT.timeout;
    }
    throw new CliError(`node ${node}: ${(error as Error).message}`);
  } finally {
    commands.stop();
    await bus.stop();
  }
  options.out.write(`node ${node}: ${formatCommand(command)} -> ${reply.result} (${formatStatus(reply.status)})\n`);
  return reply.result === 'ok' ? EXIT.ok : EXIT.refused;
}

export function addSendCommand(program: Command): void {
  program
    .command('send')
    .description('send one protocol command to a node and print its reply')
    .argument('<node>', 'node id, 1..63')
    .argument('<command...>', 'the command and its arguments (below)')
    .option('-i, --interface <name>', 'CAN interface, e.g. can0 or vcan0 (default: can.interface from the config)')
    .addOption(new Option('-t, --timeout <ms>', 'how long to wait for the reply').default('1000'))
    .addHelpText(
      'after',
      `\n${USAGE}\n\nexamples:\n  canplug send 3 relay off\n  canplug send 3 humidity-limit 75 8\n\n` +
        `It talks to the node directly: the node's interlock applies, the gateway's backup rules do not.\n${EXIT_CODES_HELP}`,
    )
    .action(async (nodeText: string, words: string[], opts: { interface?: string; timeout: string }, command: Command) => {
      const { config } = readConfig(configOption(command));
      const node = parseInteger('node', nodeText, 1, 63);
      const nodeCommand = parseNodeCommand(words);
      const timeoutMs = parseInteger('--timeout', opts.timeout, 10, 60000);
      if (config.can.protocol !== 'v1')
        throw new CliError('send speaks protocol v1; the legacy seed socket has no node ids or replies', EXIT.usage);
      const transport = await busTransport(config, opts.interface, silentLogger);
      process.exitCode = await send(transport, node, nodeCommand, { timeoutMs, out: process.stdout });
    });
}
