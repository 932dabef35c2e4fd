/**
 * The `canplug` command line. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.
 */
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type Config } from './gateway/config.js';
import { Gateway, VERSION } from './gateway/controller.js';
import { createLogger } from './log.js';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

function readConfig(path: string | undefined): { config: Config; path: string | undefined } {
  try {
    return loadConfig({ path });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`canplug: ${error.message}\n`);
      process.exit(EXIT.usage);
    }
    throw error;
  }
}

const program = new Command('canplug')
  .description('CAN smart-socket gateway: MQTT (Home Assistant), REST, SQLite, safety cutoffs, rules')
  .version(VERSION)
  .addOption(new Option('-c, --config <file>', 'YAML config file (default: $CANPLUG_CONFIG, ./canplug.yaml, built-in demo)'))
  .showHelpAfterError()
  .exitOverride((error) => process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage));

program
  .command('run')
  .description('run the gateway daemon (default config: simulated sockets, embedded broker, REST on 127.0.0.1:8080)')
  .action(async () => {
    const { config, path } = readConfig(program.opts().config);
    const log = createLogger(config.log.level);
    log.info({ config: path ?? 'built-in defaults', version: VERSION }, 'starting canplug');
    const gateway = new Gateway({ config, log });
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return; // a second signal during shutdown is ignored
      stopping = true;
      log.info({ signal }, 'shutting down');
      setTimeout(() => {
        log.error('shutdown took over 5 s; exiting');
        process.exit(EXIT.failure);
      }, 5000).unref();
      gateway.stop().then(
        () => process.exit(EXIT.ok),
        (error: Error) => {
          log.error({ err: error.message }, 'shutdown failed');
          process.exit(EXIT.failure);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    try {
      await gateway.start();
    } catch (error) {
      log.fatal({ err: (error as Error).message }, 'canplug could not start');
      await gateway.stop().catch(() => {});
      process.exit(EXIT.failure);
    }
  });

await program.parseAsync(process.argv);
