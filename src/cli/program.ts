/** The `canplug` program: global options, every command, usage errors as exit code 2. */
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { CliError, EXIT, EXIT_CODES_HELP } from './common.js';
import { addConfigCommands } from './config-check.js';
import { addDbCommands } from './db.js';
import { addFirmwareCommands } from './firmware.js';
import { addRunCommand } from './run.js';
import { addSendCommand } from './send.js';
import { addSimCommand } from './sim.js';
import { addSniffCommand } from './sniff.js';
import { addTokenCommands } from './token.js';

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
  addFirmwareCommands(program);
  addConfigCommands(program);
  addTokenCommands(program);
  return program;
}
