/**
 * `canplug run`: the daemon. Tells systemd READY=1 only once the database, the CAN transport and MQTT are up,
 * pings the watchdog from the main loop, and on SIGTERM/SIGINT stops in order within 5 s
 * (a second signal is ignored; past 5 s pending readings are written and the process exits 1).
 */
import type { Command } from 'commander';
import { Gateway } from '../daemon/gateway.js';
import { redactUrl } from '../mqtt/connection.js';
import { createLogger, type Logger } from '../log.js';
import { VERSION } from '../version.js';
import { configOption, EXIT, EXIT_CODES_HELP, readConfig } from './common.js';
import { ServiceNotifier } from './service-notifier.js';

export const SHUTDOWN_LIMIT_MS = 5000;
/** While waiting for the broker at start-up, systemd is asked for this much more time, this often. */
const EXTEND_EVERY_MS = 10_000;

export function addRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the gateway daemon (default config: simulated sockets, embedded broker, REST on 127.0.0.1:8080)')
    .addHelpText(
      'after',
      `
Under systemd (Type=notify) it sends READY=1 once the database, the CAN transport and MQTT are up
(the CAN interface may still be down: health says so), pings the
watchdog (WatchdogSec=) from its main loop, and STOPPING=1 on shutdown. SIGTERM or SIGINT stops it:
requests end, pending readings are written to SQLite, offline is published, the bus is closed;
exit 0 within 5 s, or 1 if the shutdown took longer (pending readings are still written).
${EXIT_CODES_HELP}`,
    )
    .action(async (_options, command: Command) => {
      process.exitCode = await runDaemon(configOption(command));
    });
}

/** Runs until a signal stops it; resolves with the exit code only when start-up fails. */
export async function runDaemon(configPath: string | undefined): Promise<number> {
  const { config, path } = readConfig(configPath);
  const log = createLogger(config.log.level);
  const notifier = new ServiceNotifier({ log: log.child({ module: 'systemd' }) });
  log.info({ config: path ?? 'built-in defaults', version: VERSION }, 'starting canplug');
  const gateway = new Gateway({ config, log });
  const stopWatchdog = notifier.startWatchdog();
  void notifier.status('starting: database, CAN, MQTT');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return; // a second signal during shutdown is ignored
    stopping = true;
    log.info({ signal }, 'shutting down');
    void notifier.stopping();
    setTimeout(() => {
      // Whatever the stuck step is, readings already accepted still reach the disk.
      gateway.flushPending();
      log.error({ limit_ms: SHUTDOWN_LIMIT_MS }, 'shutdown took too long; pending readings written, exiting');
      process.exit(EXIT.failure);
    }, SHUTDOWN_LIMIT_MS).unref();
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
    stopWatchdog();
    await gateway.stop().catch(() => {});
    return EXIT.failure;
  }
  if (stopping) return EXIT.ok;
  await waitForMqtt(gateway, log, notifier, () => stopping);
  if (stopping) return EXIT.ok;

  const summary = () => {
    const mqtt = gateway.mqttStatus();
    if (mqtt.refused) return `running without MQTT: ${mqtt.error}`;
    return mqtt.connected
      ? `running: ${gateway.health().devices.total} devices, MQTT ${redactUrl(gateway.mqttUrl())}, REST ${gateway.httpUrl()}`
      : `running; MQTT broker ${redactUrl(gateway.mqttUrl())} lost (${mqtt.error ?? 'disconnected'}), reconnecting`;
  };
  await notifier.ready(summary());
  gateway.onMqttChange(() => void notifier.status(summary()));
  return EXIT.ok;
}

/**
 * READY=1 means the database is open, the CAN transport started and MQTT connected. The CAN
 * interface itself may still be down (the transport keeps retrying and health says so): the
 * daemon's local safety must run regardless. gateway.start() returns after a few seconds even when
 * the broker is unreachable, so readiness waits here, telling systemd why and asking for more
 * start-up time while the process is alive.
 */
async function waitForMqtt(gateway: Gateway, log: Logger, notifier: ServiceNotifier, stopping: () => boolean): Promise<void> {
  if (gateway.mqttStatus().connected) return;
  const url = redactUrl(gateway.mqttUrl());
  const waiting = () => {
    void notifier.status(`waiting for the MQTT broker at ${url}: ${gateway.mqttStatus().error ?? 'not connected'}`);
    void notifier.extendStartTimeout(3 * EXTEND_EVERY_MS);
  };
  log.warn({ mqtt: url }, 'not ready until the MQTT broker is reachable');
  waiting();
  const timer = setInterval(waiting, EXTEND_EVERY_MS);
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      // Refused (another gateway owns the base topic): ready without MQTT, the reason in the status.
      const mqtt = gateway.mqttStatus();
      if (mqtt.connected || mqtt.refused || stopping()) {
        clearInterval(check);
        resolve();
      }
    }, 100);
  });
  clearInterval(timer);
}
