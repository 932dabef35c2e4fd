/**
 * The health report: GET /api/health (200 when ok, 503 otherwise), the MQTT bridge's health_check
 * and its retained `<base>/bridge/health`. `ok` once CAN, MQTT, the database, HTTP and the safety
 * worker are up and every feature started; `degraded` while one of them is not, with `problems`.
 */
import { Type, type Static } from '@sinclair/typebox';

const Count = (description?: string) => Type.Integer({ minimum: 0, ...(description ? { description } : {}) });

export const HealthStatus = Type.Union([Type.Literal('ok'), Type.Literal('starting'), Type.Literal('degraded'), Type.Literal('stopping')]);
export type HealthStatus = Static<typeof HealthStatus>;

export const HealthReport = Type.Object(
  {
    status: HealthStatus,
    problems: Type.Optional(
      Type.Array(Type.String(), {
        description: 'what keeps the status from ok, one sentence each (a port taken and retried, the CAN interface down, ...)',
      }),
    ),
    version: Type.String(),
    uptime_s: Count('seconds since the daemon started (monotonic)'),
    can: Type.Object(
      {
        up: Type.Boolean(),
        transport: Type.String({ description: 'sim, socketcan (and how it reaches the kernel)' }),
        protocol: Type.Union([Type.Literal('v1'), Type.Literal('seed')]),
        interface: Type.Optional(Type.String({ description: 'the SocketCAN interface' })),
        frames_received: Count(),
        frames_sent: Count(),
        frames_unknown: Count('ids outside the protocol'),
        frames_malformed: Count('a protocol id with a bad length or content'),
        frames_lost: Count('from sequence gaps'),
        frames_quarantined: Count('from a node id two nodes share: not applied'),
        frames_dropped: Count('dropped by the transport (queue full)'),
        kernel_drops: Count("dropped by the kernel: the CAN socket's receive queue was full (SO_RXQ_OVFL)"),
        receive_queue: Type.Optional(
          Type.Object(
            {
              bytes: Type.Optional(
                Type.Integer({ minimum: 0, description: 'the queue the kernel granted (none until a socket was opened)' }),
              ),
              wanted: Type.Integer({ minimum: 0, description: 'one second of a full bus' }),
              problem: Type.Optional(Type.String({ description: 'why the queue is smaller than wanted, and what to change' })),
            },
            { additionalProperties: false, description: "the CAN socket's receive queue (SocketCAN)" },
          ),
        ),
        frames_not_applied: Count('decoded, but a handler failed'),
        bus_errors: Count('error frames and controller errors'),
      },
      { additionalProperties: false },
    ),
    mqtt: Type.Object(
      {
        connected: Type.Boolean(),
        url: Type.String({ description: 'without credentials' }),
        embedded: Type.Boolean({ description: 'the gateway runs its own broker' }),
        dropped_while_stalled: Count('QoS 0 states dropped while the broker was not reading'),
        rejected: Count('messages refused before a handler (too big) or whose handler threw'),
        discovery_resends_coalesced: Type.Optional(Count('Home Assistant discovery re-sends folded into one')),
        error: Type.Optional(Type.String()),
        embedded_broker: Type.Optional(
          Type.Object(
            {
              listening: Type.Boolean({ description: 'false while its port is taken (retried)' }),
              error: Type.Optional(Type.String()),
              clients: Count(),
              refused: Type.Object(
                {
                  packets_too_large: Count(),
                  clients_over_limit: Count(),
                  connections_over_limit: Count(),
                  gateway_id_taken: Count(),
                  retained_over_limit: Count(),
                  subscriptions_over_limit: Count(),
                },
                { additionalProperties: false, description: 'what the embedded broker refused, by kind' },
              ),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    http: Type.Object(
      {
        listening: Type.Boolean({ description: 'false while the port is taken (retried)' }),
        error: Type.Optional(Type.String()),
        failed_tries: Type.Optional(Count()),
        auth_failures: Count('requests and live-stream connections with a wrong token'),
        rate_limited: Count('requests refused by the per-address limit'),
        connections_dropped: Count('connections closed at once because 256 were open'),
        live_clients: Count(),
        live_refused: Count('live-stream connections refused because 50 clients were connected'),
      },
      { additionalProperties: false },
    ),
    database: Type.Object(
      {
        ok: Type.Boolean({ description: 'false while the database refuses writes' }),
        error: Type.Optional(Type.String()),
        pending: Count('readings and events waiting to be written'),
        readings_written: Count(),
        readings_dropped: Count(),
        raw_rows_dropped: Count('raw readings not kept (past their retention, or the bound while the database refused writes)'),
        events_dropped: Count(),
      },
      { additionalProperties: false },
    ),
    safety: Type.Object(
      {
        worker: Type.Union([Type.Literal('starting'), Type.Literal('running'), Type.Literal('restarting'), Type.Literal('stopped')]),
        worker_restarts: Count(),
        worker_hangs: Count('times the watchdog ended a safety worker that had stopped answering (also counted in worker_restarts)'),
        worker_trips: Count('trips the safety worker thread made'),
        worker_kernel_drops: Count("CAN frames the kernel dropped on the safety worker's own socket: its receive queue was full"),
      },
      { additionalProperties: false },
    ),
    devices: Type.Object(
      {
        total: Count(),
        online: Count(),
        conflicts: Type.Array(Type.String(), { description: 'devices whose node id two nodes share' }),
        flapping: Type.Array(Type.String(), { description: 'devices held offline while their availability flaps' }),
      },
      { additionalProperties: false },
    ),
    udp: Type.Object(
      {
        listening: Type.Boolean(),
        error: Type.Optional(Type.String({ description: 'why it is not listening (retried)' })),
        port: Type.Optional(Type.Integer()),
        datagrams: Count(),
        malformed: Count(),
        ignored: Count('from new plugs past udp.max_plugs'),
        excess: Count('datagrams of one plug within its report period, not applied'),
      },
      { additionalProperties: false, description: 'the Wi-Fi plug listener' },
    ),
    log_lines_suppressed: Count('log lines left out by the per-reason limit'),
    failed_features: Type.Optional(
      Type.Array(Type.Object({ feature: Type.String(), error: Type.String() }, { additionalProperties: false }), {
        description: 'features that failed to start; the daemon runs without them',
      }),
    ),
  },
  { additionalProperties: false },
);
export type HealthReport = Static<typeof HealthReport>;
