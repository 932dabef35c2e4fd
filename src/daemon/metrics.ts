/**
 * Prometheus metrics (names in docs/protocol.md section 7). Counters are read from the components
 * that own them when scraped, so the hot path pays nothing for metrics.
 */
import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';

export type Source = () => number;

export class Metrics {
  readonly registry = new PromRegistry();
  /** Filled by the features that own the numbers; read at scrape time. */
  readonly sources: Record<string, Source> = {};
  /** Counters with a `kind` label, read the same way. */
  readonly labeledSources: Record<string, () => Record<string, number>> = {};
  readonly dbFlushSeconds: Histogram;
  readonly mqttRoundTripSeconds: Histogram;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const labeled = this.labeledSources;
    const counter = (name: string, help: string) => {
      const sources = this.sources;
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          const value = sources[name]?.() ?? 0;
          this.reset();
          this.inc(value);
        },
      });
    };
    counter('canplug_can_frames_received_total', 'CAN frames received');
    counter('canplug_can_frames_sent_total', 'CAN frames sent');
    counter('canplug_can_frames_unknown_total', 'CAN frames with an id outside the protocol');
    counter('canplug_can_frames_malformed_total', 'CAN frames with a protocol id but a bad length or content');
    counter('canplug_can_frames_lost_total', 'CAN frames lost, from sequence gaps');
    counter('canplug_can_bus_errors_total', 'CAN error frames and controller errors');
    counter(
      'canplug_can_kernel_drops_total',
      "CAN frames the kernel dropped because the gateway's socket receive queue was full (SO_RXQ_OVFL)",
    );
    counter('canplug_mqtt_messages_published_total', 'MQTT messages published');
    counter('canplug_mqtt_messages_rejected_total', 'MQTT messages refused (too big, bad payload)');
    counter(
      'canplug_mqtt_messages_dropped_total',
      'QoS 0 state messages dropped while the broker was not reading (republished once it reads again)',
    );
    counter('canplug_db_readings_written_total', 'readings written to SQLite');
    counter('canplug_udp_datagrams_received_total', 'Wi-Fi plug UDP datagrams received');
    counter('canplug_udp_datagrams_malformed_total', 'Wi-Fi plug UDP datagrams refused');
    counter('canplug_udp_datagrams_excess_total', 'Wi-Fi plug UDP datagrams past one per plug and report period (counted, not stored)');
    counter('canplug_safety_trips_total', 'safety trips (node or gateway)');
    counter('canplug_safety_worker_trips_total', 'trips made by the safety worker thread (the open sent from its own CAN access)');
    counter('canplug_safety_worker_restarts_total', 'times the safety worker thread exited and was started again');
    counter('canplug_safety_worker_hangs_total', 'times the watchdog ended a safety worker thread that had stopped answering');
    counter(
      'canplug_safety_worker_kernel_drops_total',
      "CAN frames the kernel dropped because the safety worker's own socket receive queue was full",
    );
    counter('canplug_rules_fired_total', 'rule actions fired');
    counter('canplug_event_listener_failures_total', 'event-bus listeners that threw (logged; the other listeners ran)');
    // What outside input was refused or cut off by a bound (docs/reliability.md, "Nothing unbounded").
    counter('canplug_udp_datagrams_ignored_total', 'Wi-Fi plug UDP datagrams from new chip ids past udp.max_plugs');
    counter('canplug_http_auth_failures_total', 'REST requests and live-stream connections with a wrong token');
    counter('canplug_http_rate_limited_total', 'requests refused by the per-address limit on changes and failed logins');
    counter('canplug_log_lines_suppressed_total', 'log lines left out by the per-reason limit');
    counter('canplug_http_connections_dropped_total', 'HTTP connections closed at once because 256 were open');
    counter('canplug_live_clients_refused_total', 'live-stream connections refused because 50 clients were connected');
    new Counter({
      name: 'canplug_mqtt_broker_refused_total',
      help: 'what the embedded broker refused, by kind (packets too large, clients or connections over the limit, the gateway id taken, retained or subscriptions over the limit)',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [kind, value] of Object.entries(labeled.canplug_mqtt_broker_refused_total?.() ?? {})) this.inc({ kind }, value);
      },
    });
    const gauge = (name: string, help: string) => {
      const sources = this.sources;
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(sources[name]?.() ?? 0);
        },
      });
    };
    gauge('canplug_devices_online', 'devices currently online');
    gauge('canplug_can_receive_queue_bytes', "the CAN socket's receive queue as the kernel granted it (0 on the simulated bus)");
    this.dbFlushSeconds = new Histogram({
      name: 'canplug_db_flush_seconds',
      help: 'time to write one batch of readings and events',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
    this.mqttRoundTripSeconds = new Histogram({
      name: 'canplug_mqtt_round_trip_seconds',
      help: 'time for a QoS 1 publish to be acknowledged by the broker',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
