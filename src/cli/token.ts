/** `canplug token rotate`: a new API bearer token; the old one stops working. */
import type { Command } from 'commander';
import { rotateToken, tokenPath } from '../api/token.js';
import type { Config } from '../config/config.js';
import { configOption, EXIT_CODES_HELP, readConfig, requireDataOwner } from './common.js';

/** `http.token_file` (arrives with the REST branch); empty means beside the database. */
function configuredTokenFile(config: Config): string {
  const value: unknown = config.http.token_file;
  return typeof value === 'string' ? value : '';
}

export function addTokenCommands(program: Command): void {
  const token = program.command('token').description('the REST API bearer token');
  token
    .command('rotate')
    .description('replace the API token with a new random one and print it')
    .option('-q, --quiet', 'print only the token')
    .addHelpText(
      'after',
      `\nThe token file is http.token_file, or "token" beside the database; mode 0600.\n` +
        `Clients (Home Assistant REST commands, scripts) need the new token; the daemon picks it up by itself.\n${EXIT_CODES_HELP}`,
    )
    .action((opts: { quiet?: boolean }, command: Command) => {
      const { config } = readConfig(configOption(command));
      const path = tokenPath(config.database.path, configuredTokenFile(config));
      requireDataOwner(path, 'token rotate');
      const value = rotateToken(path);
      process.stdout.write(opts.quiet ? `${value}\n` : `new API token written to ${path}:\n${value}\n`);
    });
}
