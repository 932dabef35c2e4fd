/**
 * An MQTT broker in a process of its own, for tests in which the broker is not what is tested (the
 * daemon's shutdown, systemd readiness, a broker that stalls or restarts, a base topic that moves):
 * Mosquitto where it is installed (and always with CANPLUG_REQUIRE_MOSQUITTO=1, as in CI), otherwise
 * the gateway's own broker, aedes, run as a separate process so it can be stopped, paused and
 * restarted the same way.
 */
import { fileURLToPath } from 'node:url';
import { freePort, MOSQUITTO, mosquittoRequired, startMosquitto, superviseBroker, type Mosquitto } from './mosquitto.js';

export type TestBroker = Mosquitto;

const AEDES_PROCESS = fileURLToPath(new URL('./aedes-broker-process.ts', import.meta.url));

/** Starts an anonymous broker on `port` (default: a free one); the caller registers `t.after(() => broker.close())`. */
export async function startBroker(options: { port?: number } = {}): Promise<TestBroker> {
  if (MOSQUITTO || mosquittoRequired) return startMosquitto(options);
  const port = options.port ?? (await freePort());
  return superviseBroker(
    'aedes (mosquitto is not installed)',
    [process.execPath, '--import', 'tsx', AEDES_PROCESS, String(port)],
    port,
    `mqtt://127.0.0.1:${port}`,
  );
}
