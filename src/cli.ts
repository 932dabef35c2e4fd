/**
 * The `canplug` command line (docs/cli.md). Each command lives in src/cli/<command>.ts; exit codes
 * are in src/cli/common.ts: 0 ok, 1 runtime failure, 2 bad usage or config, 3/4 `send` refused/no reply.
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from './gateway/controller.js';
import { CliError, EXIT, EXIT_CODES_HELP } from './cli/common.js';
import { addConfigCommands } from './cli/config-check.js';
import { addDbCommands } from './cli/db.js';
import { addRunCommand } from './cli/run.js';
import { addSendCommand } from './cli/send.js';
import { addSimCommand } from './cli/sim.js';
import { addSniffCommand } from './cli/sniff.js';
import { addTokenCommands } from './cli/token.js';

export { EXIT };

export function buildProgram(): Command {
  const program = new Command('canplug')
    .description('CAN smart-socket gateway: MQTT (Home Assistant), REST, SQLite, safety cutoffs, rules')
    .version(VERSION)
    .option('-c, --config <file>', 'YAML config file (default: $CANPLUG_CONFIG, ./canplug.yaml, built-in demo)')
    .showHelpAfterError()
    // Usage errors (unknown option, missing argument) exit 2; --help and --version exit 0.
    .exitOverride((error) => {
      throw new CliError(error.message, error.exitCode === 0 ? EXIT.ok : EXIT.usage, { cause: error });
    })
    .addHelpText('after', EXIT_CODES_HELP);
  addRunCommand(program);
  addSimCommand(program);
  addSniffCommand(program);
  addSendCommand(program);
  addDbCommands(program);
  addConfigCommands(program);
  addTokenCommands(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CliError) {
    // Commander has already printed its own usage errors.
    const printed = error.cause instanceof CommanderError || error.exitCode === EXIT.ok;
    if (!printed && error.message) process.stderr.write(`canplug: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`canplug: ${(error as Error).message}\n`);
    if (process.env.CANPLUG_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    process.exitCode = EXIT.failure;
  }
}
