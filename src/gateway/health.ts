/** The health report (`GET /api/health`, MQTT bridge health_check): ok once CAN, MQTT and the database are up. */
import type { HealthReport } from '../api/context.js';
import { redactUrl } from '../mqtt/connection.js';
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
  const up = can.up && g.mqtt.connected && !g.mqtt.conflict && db.ok && worker.state === 'running';
  const devices = g.registry.list();
  return {
    status: state === 'ok' ? (up && failed.length === 0 ? 'ok' : 'degraded') : state,
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
      frames_not_applied: g.can.counters.handlerFailed,
      bus_errors: g.can.counters.busErrors + can.busErrors,
    },
    mqtt: {
      connected: g.mqtt.connected,
      url: redactUrl(g.mqttUrl()),
      embedded: g.broker !== undefined,
      dropped_while_stalled: g.mqtt.dropped,
      ...(g.mqtt.error ? { error: g.mqtt.error } : {}),
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
    udp: g.wifi.stats(),
    ...(failed.length > 0 ? { failed_features: failed } : {}),
  };
}
