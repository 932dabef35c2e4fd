/** The health report (`GET /api/health`, MQTT bridge health_check): ok once CAN, MQTT, the database, HTTP and the safety worker are up; `problems` says what is not. */
import type { HealthReport, HealthStatus } from '../contracts/health.js';
import { monotonicMs } from '../gateway/clock.js';
import { LogLimiter } from '../log-limiter.js';
import { redactUrl } from '../mqtt/connection.js';
import { VERSION } from '../version.js';
import type { Parts } from './parts.js';

/** What the report reads: the parts that keep the figures, and where the daemon is in its life. */
export interface HealthSources {
  /** HTTP is missing while it is being built (the MQTT bridge publishes health during start-up). */
  parts: Pick<
    Parts,
    'config' | 'can' | 'canNodes' | 'registry' | 'writer' | 'safety' | 'mqtt' | 'broker' | 'brokerBinding' | 'discovery' | 'wifi'
  > &
    Partial<Pick<Parts, 'http'>>;
  /** The daemon's state: ok once started (then degraded while a part is down). */
  state: HealthStatus;
  failed: { feature: string; error: string }[];
  mqttUrl: string;
  startedMono: number;
}

export function healthReport({ parts: p, state, failed, mqttUrl, startedMono }: HealthSources): HealthReport {
  const can = p.can.transport.stats();
  const db = p.writer.health();
  const worker = p.safety.worker;
  const http = p.http ? p.http.state() : { ok: false, failures: 0, error: 'not started yet' };
  const broker = p.brokerBinding?.state();
  const udp = p.wifi.stats();
  const problems = [
    ...(can.up ? [] : ['the CAN interface is down']),
    ...(worker.state === 'running' ? [] : [`the safety worker is ${worker.state}`]),
    ...(p.mqtt.connected ? [] : [`MQTT is not connected${p.mqtt.error ? `: ${p.mqtt.error}` : ''}`]),
    ...(p.mqtt.connected && p.mqtt.conflict ? [p.mqtt.conflict] : []),
    ...(broker && !broker.ok ? [`the embedded MQTT broker is not listening (${broker.error ?? 'starting'}); retrying`] : []),
    ...(http.ok ? [] : [`HTTP is not listening (${http.error ?? 'starting'}); retrying`]),
    ...(udp.error ? [`the Wi-Fi plug listener is not listening (${udp.error}); retrying`] : []),
    ...(db.ok ? [] : [`the database refuses writes: ${db.error ?? 'unknown error'}`]),
    ...failed.map((f) => `${f.feature} failed to start: ${f.error}`),
  ];
  const devices = p.registry.list();
  return {
    status: state === 'ok' ? (problems.length === 0 ? 'ok' : 'degraded') : state,
    ...(problems.length > 0 ? { problems } : {}),
    version: VERSION,
    uptime_s: Math.round((monotonicMs() - startedMono) / 1000),
    can: {
      up: can.up,
      transport: p.can.transport.name,
      protocol: p.can.protocol,
      ...(p.config.can.transport === 'socketcan' ? { interface: p.config.can.interface } : {}),
      frames_received: p.can.counters.received,
      frames_sent: p.can.counters.sent,
      frames_unknown: p.can.counters.unknown,
      frames_malformed: p.can.counters.malformed,
      frames_lost: p.canNodes.framesLost,
      frames_quarantined: p.canNodes.framesQuarantined,
      frames_dropped: can.dropped,
      kernel_drops: can.kernelDrops ?? 0,
      ...(can.receiveQueue ? { receive_queue: can.receiveQueue } : {}),
      frames_not_applied: p.can.counters.handlerFailed,
      bus_errors: p.can.counters.busErrors + can.busErrors,
    },
    mqtt: {
      connected: p.mqtt.connected,
      url: redactUrl(mqttUrl),
      embedded: p.broker !== undefined,
      dropped_while_stalled: p.mqtt.dropped,
      rejected: p.mqtt.rejected,
      ...(p.discovery ? { discovery_resends_coalesced: p.discovery.resendsCoalesced } : {}),
      ...(p.mqtt.error ? { error: p.mqtt.error } : {}),
      ...(p.broker && broker
        ? {
            embedded_broker: {
              listening: broker.ok,
              ...(broker.error ? { error: broker.error } : {}),
              clients: p.broker.clients,
              refused: p.broker.refused,
            },
          }
        : {}),
    },
    http: {
      listening: http.ok,
      ...(http.error ? { error: http.error, failed_tries: http.failures } : {}),
      auth_failures: p.http?.authFailures.total ?? 0,
      rate_limited: p.http?.app?.rateLimited() ?? 0,
      connections_dropped: p.http?.connectionsDropped ?? 0,
      live_clients: p.http?.live.size ?? 0,
      live_refused: p.http?.live.refused ?? 0,
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
    safety: {
      worker: worker.state,
      worker_restarts: worker.restarts,
      worker_hangs: worker.hangs,
      worker_trips: worker.trips,
      worker_kernel_drops: worker.kernelDrops,
    },
    devices: { total: devices.length, online: devices.filter((d) => d.available).length, ...p.registry.problems() },
    udp,
    log_lines_suppressed: LogLimiter.suppressedTotal,
    ...(failed.length > 0 ? { failed_features: failed } : {}),
  };
}
