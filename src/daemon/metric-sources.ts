/** Where each Prometheus counter is read when scraped: the part that owns the number (the hot path pays nothing). */
import { LogLimiter } from '../log-limiter.js';
import type { Metrics, Source } from './metrics.js';
import type { Parts } from './parts.js';

export function readCountersFrom(metrics: Metrics, p: Parts): void {
  Object.assign(metrics.sources, {
    canplug_can_frames_received_total: () => p.can.counters.received,
    canplug_can_frames_sent_total: () => p.can.counters.sent,
    canplug_can_frames_unknown_total: () => p.can.counters.unknown,
    canplug_can_frames_malformed_total: () => p.can.counters.malformed,
    canplug_can_frames_lost_total: () => p.canNodes.framesLost,
    canplug_can_bus_errors_total: () => p.can.counters.busErrors + p.can.transport.stats().busErrors,
    canplug_can_kernel_drops_total: () => p.can.transport.stats().kernelDrops ?? 0,
    canplug_can_receive_queue_bytes: () => p.can.transport.stats().receiveQueue?.bytes ?? 0,
    canplug_mqtt_messages_published_total: () => p.mqtt.published,
    canplug_mqtt_messages_rejected_total: () => p.mqtt.rejected,
    canplug_mqtt_messages_dropped_total: () => p.mqtt.dropped,
    canplug_db_readings_written_total: () => p.writer.health().readingsWritten,
    canplug_udp_datagrams_received_total: () => p.wifi.counters.received,
    canplug_udp_datagrams_malformed_total: () => p.wifi.counters.malformed,
    canplug_safety_trips_total: () => p.safety.trips + p.canNodes.nodeTrips,
    canplug_safety_worker_trips_total: () => p.safety.worker.trips,
    canplug_safety_worker_restarts_total: () => p.safety.worker.restarts,
    canplug_safety_worker_hangs_total: () => p.safety.worker.hangs,
    canplug_safety_worker_kernel_drops_total: () => p.safety.worker.kernelDrops,
    canplug_rules_fired_total: () => p.rules.fired,
    canplug_event_listener_failures_total: () => p.events.failures,
    canplug_devices_online: () => p.registry.list().filter((d) => d.available).length,
    // What outside input was refused or cut off by a bound (docs/reliability.md, "Nothing unbounded").
    canplug_udp_datagrams_excess_total: () => p.wifi.counters.excess,
    canplug_udp_datagrams_ignored_total: () => p.wifi.counters.ignored,
    canplug_http_auth_failures_total: () => p.http.authFailures.total,
    canplug_http_rate_limited_total: () => p.api.rateLimited(),
    canplug_http_connections_dropped_total: () => p.http.connectionsDropped,
    canplug_live_clients_refused_total: () => p.http.live.refused,
    canplug_log_lines_suppressed_total: () => LogLimiter.suppressedTotal,
  } satisfies Record<string, Source>);
  metrics.labeledSources.canplug_mqtt_broker_refused_total = () => ({ ...p.broker?.refused });
}
