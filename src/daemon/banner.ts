/** What `canplug run` prints once it is ready: where the dashboard, REST, MQTT and the database are. */
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../mqtt/connection.js';

export function printBanner(
  log: Logger,
  { config, httpUrl, mqttUrl, tokenFile }: { config: Config; httpUrl: string; mqttUrl: string; tokenFile?: string },
): void {
  const base = config.mqtt.base_topic;
  const mqtt = redactUrl(mqttUrl);
  log.info(
    {
      dashboard: `${httpUrl}/`,
      ...(tokenFile ? { token_file: tokenFile } : {}),
      rest: `${httpUrl}/api/devices`,
      docs: `${httpUrl}/docs`,
      mqtt,
      topics: [`${base}/bridge/state`, `${base}/<device>`, `${base}/<device>/set`, `${config.mqtt.discovery_prefix}/#`],
      database: config.database.path,
      can: config.can.transport === 'sim' ? `simulated bus, nodes ${config.can.sim.nodes.join(', ')}` : config.can.interface,
    },
    `dashboard ${httpUrl}/ · REST ${httpUrl}/api/devices · docs ${httpUrl}/docs · MQTT ${mqtt} topics ${base}/# · database ${config.database.path}${tokenFile ? ` · API token in ${tokenFile}` : ''}`,
  );
}
