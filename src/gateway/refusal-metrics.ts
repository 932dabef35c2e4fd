/** The metrics of what outside input was refused or cut off by a bound (docs/reliability.md, "Nothing unbounded"). */
import { LogLimiter } from '../log-limiter.js';
import type { Gateway } from './controller.js';

export function addRefusalMetrics(g: Gateway): void {
  const m = g.metrics.sources;
  m.canplug_udp_datagrams_excess_total = () => g.wifi.counters.excess;
  m.canplug_udp_datagrams_ignored_total = () => g.wifi.counters.ignored;
  m.canplug_http_auth_failures_total = () => g.http.authFailures.total;
  m.canplug_http_rate_limited_total = () => g.api.rateLimited();
  m.canplug_http_connections_dropped_total = () => g.http.connectionsDropped;
  m.canplug_live_clients_refused_total = () => g.http.live.refused;
  m.canplug_log_lines_suppressed_total = () => LogLimiter.suppressedTotal;
  g.metrics.labeledSources.canplug_mqtt_broker_refused_total = () => ({ ...g.broker?.refused });
}
