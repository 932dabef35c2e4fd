/**
 * The gateway's MQTT side as the controller starts it: the connection, and the embedded broker
 * when no broker URL is configured. A broker port that is taken is retried with back-off; the
 * gateway's client connects once its own broker listens, never to whatever else holds the port.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { Retry } from '../retry.js';
import { MqttConnection, randomClientId } from './connection.js';
import { EmbeddedBroker } from './embedded-broker.js';

export interface GatewayMqtt {
  connection: MqttConnection;
  broker?: EmbeddedBroker;
  /** The embedded broker's listening, retried while its port is taken. */
  brokerBinding?: Retry;
}

export async function startGatewayMqtt(c: Config['mqtt'], log: Logger, onAcknowledged: (ms: number) => void): Promise<GatewayMqtt> {
  const clientId = c.client_id || randomClientId();
  let connection: MqttConnection | undefined;
  let broker: EmbeddedBroker | undefined;
  let brokerBinding: Retry | undefined;
  if (!c.url) {
    // With a password configured the embedded broker asks every client for it (the gateway's own included).
    const credentials = c.password ? { username: c.username, password: c.password } : undefined;
    const embedded = new EmbeddedBroker({ host: c.embedded_host, port: c.embedded_port, credentials, gatewayClientId: clientId });
    broker = embedded;
    brokerBinding = new Retry(
      `start the embedded MQTT broker on ${c.embedded_host}:${c.embedded_port}`,
      async () => {
        await embedded.listen();
        // A later try: the connection exists by then and has been waiting for this.
        if (connection) void connection.start(0);
      },
      log,
    );
    await brokerBinding.start();
  }
  connection = new MqttConnection({
    url: broker?.url ?? c.url,
    baseTopic: c.base_topic,
    username: c.username,
    password: c.password,
    clientId,
    caFile: c.ca,
    certFile: c.cert,
    keyFile: c.key,
    instance: randomBytes(4).toString('hex'),
    // The embedded broker is this gateway's own: nobody else publishes on it.
    guard: broker === undefined,
    log,
  });
  connection.onAcknowledged = onAcknowledged;
  if (!broker || broker.listening) await connection.start();
  return { connection, broker, brokerBinding };
}
