/**
 * The `canplug` command line (docs/cli.md). The program is src/cli/program.ts, each command is
 * src/cli/<command>.ts; exit codes: 0 ok, 1 runtime failure, 2 bad usage or config, 3/4 `send`
 * refused/no reply (src/cli/common.ts).
 */
import { CommanderError } from 'commander';
import { CliError, EXIT } from './cli/common.js';
import { buildProgram } from './cli/program.js';

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
