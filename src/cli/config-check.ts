/** `canplug config check [file]`: every problem in a config file, one line each with its key. */
import { existsSync } from 'node:fs';
import { Kind, type TSchema } from '@sinclair/typebox';
import type { Command } from 'commander';
import { ConfigError, ConfigSchema, envName, exposureWarnings, loadConfig, type Config } from '../config/config.js';
import { redactUrl } from '../mqtt/connection.js';
import { CliError, configOption, EXIT, EXIT_CODES_HELP } from './common.js';

/** Every CANPLUG_* variable the daemon reads. */
export function knownEnvNames(schema: TSchema = ConfigSchema, path: string[] = []): string[] {
  return Object.entries(schema.properties as Record<string, TSchema>).flatMap(([key, sub]) =>
    sub[Kind] === 'Object' ? knownEnvNames(sub, [...path, key]) : [envName([...path, key])],
  );
}

/** Things that are allowed but probably not meant; they do not fail the check. */
export function configWarnings(config: Config, env: NodeJS.ProcessEnv): string[] {
  const warnings: string[] = [];
  const known = new Set([...knownEnvNames(), 'CANPLUG_CONFIG']);
  for (const name of Object.keys(env)
    .filter((n) => n.startsWith('CANPLUG_') && !known.has(n))
    .sort()) {
    warnings.push(`environment variable ${name} is not a config key and is ignored`);
  }
  if (config.can.transport === 'socketcan' && !existsSync(`/sys/class/net/${config.can.interface}`)) {
    warnings.push(`can.interface: ${config.can.interface} does not exist on this machine (yet); see deploy/README.md to bring it up`);
  }
  warnings.push(...exposureWarnings(config));
  if (config.safety.humidity_hysteresis >= config.safety.humidity_limit) {
    warnings.push('safety.humidity_hysteresis is not below safety.humidity_limit: a tripped socket could never re-arm');
  }
  return warnings;
}

export function addConfigCommands(program: Command): void {
  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .description('validate a config file (with CANPLUG_* overrides, as the daemon would) and print every problem')
    .argument('[file]', 'the YAML file (default: --config, $CANPLUG_CONFIG, ./canplug.yaml)')
    .addHelpText('after', `\nPrints one line per problem, naming the key, the value and what is allowed.\n${EXIT_CODES_HELP}`)
    .action((file: string | undefined, _opts: unknown, command: Command) => {
      const path = file ?? configOption(command);
      let result: { config: Config; path: string | undefined };
      try {
        result = loadConfig({ path });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        const where = path ?? process.env.CANPLUG_CONFIG ?? 'canplug.yaml';
        const count = error.problems.length;
        throw new CliError(`${where}: ${count} problem${count === 1 ? '' : 's'}\n  ${error.problems.join('\n  ')}`, EXIT.usage);
      }
      const c = result.config;
      for (const warning of configWarnings(c, process.env)) process.stderr.write(`warning: ${warning}\n`);
      process.stdout.write(
        `${result.path ?? 'built-in defaults (no config file)'}: OK\n` +
          `  can: ${c.can.transport === 'sim' ? `simulated sockets ${c.can.sim.nodes.join(', ')}` : `${c.can.interface} at ${c.can.bitrate} bit/s`}, protocol ${c.can.protocol}\n` +
          `  mqtt: ${c.mqtt.url ? redactUrl(c.mqtt.url) : `embedded broker on ${c.mqtt.embedded_host}:${c.mqtt.embedded_port}`}, base topic ${c.mqtt.base_topic}\n` +
          `  http: ${c.http.host}:${c.http.port}\n` +
          `  database: ${c.database.path}, committed every ${c.database.flush_interval_ms / 1000} s; kept: ${describeRetention(c.database)}\n`,
      );
    });
}

/** `raw readings 7 days, minutes 365 days, hours for ever, events 365 days`. */
function describeRetention(database: Config['database']): string {
  const days = (n: number) => (n > 0 ? `${n} days` : 'for ever');
  return `raw readings ${days(database.retention_days)}, minutes ${days(database.minute_retention_days)}, hours ${days(database.hour_retention_days)}, events ${days(database.event_retention_days)}`;
}
