/** The health report (`GET /api/health`, MQTT bridge health_check): ok once CAN, MQTT and the database are up. */
import type { HealthReport } from '../api/context.js';
import { redactUrl } from '../mqtt/connection.js';
import { LogLimiter } from '../log-limiter.js';
import { monotonicMs } from './clock.js';
import { VERSION } from '../version.js';
import type { Gateway } from './controller.js';

export function healthReport(
  g: Gateway,
  state: HealthReport['status'],
  failed: { feature: string; error: string }[],
  startedMono: number,
): HealthReport {
  const can = g.can.transport.stats();
  const db = g.writer.health();
  const worker = g.safety.worker;
  // Asked for during start-up too (the MQTT bridge publishes it), before HTTP is built.
  const http = g.http ? g.http.state() : { ok: false, failures: 0, error: 'not started yet' };
  const broker = g.brokerBinding?.state();
  const udp = g.wifi.stats();
  const problems = [
    ...(can.up ? [] : ['the CAN interface is down']),
    ...(worker.state === 'running' ? [] : [`the safety worker is ${worker.state}`]),
    ...(g.mqtt.connected ? [] : [`MQTT is not connected${g.mqtt.error ? `: ${g.mqtt.error}` : ''}`]),
    ...(g.mqtt.connected && g.mqtt.conflict ? [g.mqtt.conflict] : []),
    ...(broker && !broker.ok ? [`the embedded MQTT broker is not listening (${broker.error ?? 'starting'}); retrying`] : []),
    ...(http.ok ? [] : [`HTTP is not listening (${http.error ?? 'starting'}); retrying`]),
    ...(udp.error ? [`the Wi-Fi plug listener is not listening (${udp.error}); retrying`] : []),
    ...(db.ok ? [] : [`the database refuses writes: ${db.error ?? 'unknown error'}`]),
    ...failed.map((f) => `${f.feature} failed to start: ${f.error}`),
  ];
  const devices = g.registry.list();
  return {
    status: state === 'ok' ? (problems.length === 0 ? 'ok' : 'degraded') : state,
    ...(problems.length > 0 ? { problems } : {}),
    version: VERSION,
    uptime_s: Math.round((monotonicMs() - startedMono) / 1000),
    can: {
      up: can.up,
      transport: g.can.transport.name,
      protocol: g.can.protocol,
      ...(g.config.can.transport === 'socketcan' ? { interface: g.config.can.interface } : {}),
      frames_received: g.can.counters.received,
      frames_sent: g.can.counters.sent,
      frames_unknown: g.can.counters.unknown,
      frames_malformed: g.can.counters.malformed,
      frames_lost: g.registry.framesLost,
      frames_quarantined: g.registry.framesQuarantined,
      frames_dropped: can.dropped,
      kernel_drops: can.kernelDrops ?? 0,
      ...(can.receiveQueue ? { receive_queue: can.receiveQueue } : {}),
      frames_not_applied: g.can.counters.handlerFailed,
      bus_errors: g.can.counters.busErrors + can.busErrors,
    },
    mqtt: {
      connected: g.mqtt.connected,
      url: redactUrl(g.mqttUrl()),
      embedded: g.broker !== undefined,
      dropped_while_stalled: g.mqtt.dropped,
      rejected: g.mqtt.rejected,
      ...(g.discovery ? { discovery_resends_coalesced: g.discovery.resendsCoalesced } : {}),
      ...(g.mqtt.error ? { error: g.mqtt.error } : {}),
      ...(g.broker && broker
        ? { embedded_broker: { listening: broker.ok, ...(broker.error ? { error: broker.error } : {}), clients: g.broker.clients, refused: g.broker.refused } }
        : {}),
    },
    http: {
      listening: http.ok,
      ...(http.error ? { error: http.error, failed_tries: http.failures } : {}),
      auth_failures: g.http?.authFailures.total ?? 0,
      rate_limited: g.api?.rateLimited() ?? 0,
      connections_dropped: g.http?.connectionsDropped ?? 0,
      live_clients: g.http?.live.size ?? 0,
      live_refused: g.http?.live.refused ?? 0,
    },
    database: {
      ok: db.ok,
      ...(db.error ? { error: db.error } : {}),
      pending: db.pending,
      readings_written: db.readingsWritten,
      readings_dropped: db.readingsDropped,
      raw_rows_dropped: db.rawRowsDropped,
      events_dropped: db.eventsDropped,
    },
    safety: { worker: worker.state, worker_restarts: worker.restarts, worker_trips: worker.trips },
    devices: { total: devices.length, online: devices.filter((d) => d.available).length, ...g.registry.problems() },
    udp,
    log_lines_suppressed: LogLimiter.suppressedTotal,
    ...(failed.length > 0 ? { failed_features: failed } : {}),
  };
}
