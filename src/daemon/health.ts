/** The health report (`GET /api/health`, MQTT bridge health_check): ok once CAN, MQTT, the database and the safety worker are up. */
import type { HealthReport, HealthStatus } from '../contracts/health.js';
import { monotonicMs } from '../gateway/clock.js';
import { redactUrl } from '../mqtt/connection.js';
import { VERSION } from '../version.js';
import type { Parts } from './parts.js';

/** What the report reads: the parts that keep the figures, and where the daemon is in its life. */
export interface HealthSources {
  parts: Pick<Parts, 'config' | 'can' | 'canNodes' | 'registry' | 'writer' | 'safety' | 'mqtt' | 'broker' | 'wifi'>;
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
  const up = can.up && p.mqtt.connected && !p.mqtt.conflict && db.ok && worker.state === 'running';
  const devices = p.registry.list();
  return {
    status: state === 'ok' ? (up && failed.length === 0 ? 'ok' : 'degraded') : state,
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
      frames_not_applied: p.can.counters.handlerFailed,
      bus_errors: p.can.counters.busErrors + can.busErrors,
    },
    mqtt: {
      connected: p.mqtt.connected,
      url: redactUrl(mqttUrl),
      embedded: p.broker !== undefined,
      dropped_while_stalled: p.mqtt.dropped,
      ...(p.mqtt.error ? { error: p.mqtt.error } : {}),
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
    devices: { total: devices.length, online: devices.filter((d) => d.available).length, ...p.registry.problems() },
    udp: p.wifi.stats(),
    ...(failed.length > 0 ? { failed_features: failed } : {}),
  };
}
