/**
 * The configuration's one TypeBox schema: every key, its default, its bounds and its description.
 * Environment overrides (CANPLUG_*) and docs/configuration.md are derived from it (config.ts,
 * config-doc.ts).
 */
import { Type, type Static } from '@sinclair/typebox';

const Port = (def: number) => Type.Integer({ minimum: 0, maximum: 65535, default: def });
const Enum = <T extends string>(values: readonly T[], def: T, description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { default: def, ...(description ? { description } : {}) },
  );
/** A reading's deadband for MQTT publishing and storage (ChangeFilter): it is passed on when it moves by more than max(absolute, relative x last). */
const Deadband = (absolute: number, relative: number, unit: string) =>
  Type.Object(
    {
      absolute: Type.Number({ minimum: 0, maximum: 100000, default: absolute, description: unit }),
      relative: Type.Number({ minimum: 0, maximum: 1, default: relative, description: 'fraction of the last value passed on' }),
    },
    { default: {}, additionalProperties: false },
  );

export const ConfigSchema = Type.Object(
  {
    can: Type.Object(
      {
        transport: Enum(['sim', 'socketcan'] as const, 'sim'),
        interface: Type.String({ minLength: 1, default: 'can0', description: 'SocketCAN interface' }),
        bitrate: Type.Union(
          [125000, 250000, 500000, 1000000].map((v) => Type.Literal(v)),
          {
            default: 125000,
            description: 'the OS brings the interface up at this rate; the gateway sizes its CAN receive queue for one second of it',
          },
        ),
        protocol: Enum(['v1', 'seed'] as const, 'v1'),
        heartbeat_timeout_ms: Type.Integer({ minimum: 500, maximum: 600000, default: 3500 }),
        command_timeout_ms: Type.Integer({ minimum: 50, maximum: 60000, default: 1000 }),
        sim: Type.Object(
          {
            nodes: Type.Array(Type.Integer({ minimum: 1, maximum: 63 }), { default: [1, 2, 3], uniqueItems: true }),
            report_period_ms: Type.Integer({ minimum: 100, maximum: 60000, default: 1000 }),
            wander: Type.Boolean({ default: true, description: 'readings drift like real ones; off for repeatable tests' }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    mqtt: Type.Object(
      {
        url: Type.String({ default: '', description: 'empty: start the embedded broker' }),
        base_topic: Type.String({ minLength: 1, pattern: '^[^#+/]+$', default: 'canplug' }),
        discovery_prefix: Type.String({ minLength: 1, pattern: '^[^#+]+$', default: 'homeassistant' }),
        discovery: Type.Boolean({ default: true, description: 'publish Home Assistant MQTT discovery configs' }),
        username: Type.String({ default: '' }),
        password: Type.String({
          default: '',
          description: 'with the embedded broker: every client must then log in with username and password',
        }),
        client_id: Type.String({ default: '' }),
        ca: Type.String({ default: '', description: 'CA certificate file for TLS' }),
        cert: Type.String({ default: '', description: 'client certificate file' }),
        key: Type.String({ default: '', description: 'client key file' }),
        embedded_host: Type.String({
          minLength: 1,
          default: '127.0.0.1',
          description: 'beyond loopback, set a password (a warning says so)',
        }),
        embedded_port: Port(1883),
        publish: Type.Object(
          {
            max_interval_s: Type.Integer({
              minimum: 0,
              maximum: 86400,
              default: 300,
              description: "a device's state is published at least this often while it reports; 0: only on a change",
            }),
            voltage: Deadband(2, 0, 'V'),
            current: Deadband(0.05, 0.1, 'A'),
            power: Deadband(5, 0.1, 'W'),
            energy: Deadband(0.05, 0, 'kWh'),
            humidity: Deadband(1, 0, '%RH'),
            temperature: Deadband(0.5, 0, '°C'),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    http: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '127.0.0.1' }),
        port: Port(8080),
        auth: Type.Boolean({
          default: true,
          description: 'require the API token for changes (mutating routes; a live stream without it is read-only)',
        }),
        token_file: Type.String({ default: '', description: 'empty: "token" beside the database' }),
        read_protection: Type.Boolean({
          default: false,
          description: 'also require the token to read /api/*, the live stream and /metrics',
        }),
        cors_origins: Type.Array(Type.String({ minLength: 1 }), {
          default: [],
          description: 'origins allowed cross-origin; empty: CORS off',
        }),
        rate_limit: Type.Integer({
          minimum: 0,
          maximum: 100000,
          default: 120,
          description: 'mutating requests per minute per client address; 0: no limit',
        }),
        dashboard_dir: Type.String({ default: '', description: 'empty: the bundled dashboard (dashboard/dist)' }),
        public_url: Type.String({
          default: '',
          pattern: '^(https?://[^\\s/?#]+[^\\s]*)?$',
          description: 'how browsers reach the dashboard (Home Assistant links each device to its page); empty: derived from host and port',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    database: Type.Object(
      {
        path: Type.String({ minLength: 1, default: './data/canplug.db' }),
        flush_interval_ms: Type.Integer({
          minimum: 10,
          maximum: 600000,
          default: 30000,
          description:
            'commit interval: a power cut loses at most the readings of this interval; a clean stop writes everything, events are written at once',
        }),
        synchronous: Enum(
          ['full', 'normal'] as const,
          'full',
          'full: a commit that returned survives a power cut; normal: the kernel writes it out within about 30 s more',
        ),
        store: Type.Object(
          {
            every_reading: Type.Boolean({
              default: false,
              description: 'store every reading as a raw row (about 10x the rows); the rollups always take every reading',
            }),
            max_interval_s: Type.Integer({
              minimum: 1,
              maximum: 3600,
              default: 60,
              description:
                'a reading is stored at least this often per device and frame even when unchanged; otherwise when a quantity moved beyond its deadband',
            }),
            voltage: Deadband(2, 0, 'V'),
            current: Deadband(0.05, 0.05, 'A'),
            power: Deadband(2, 0.05, 'W'),
            energy: Deadband(0.01, 0, 'kWh (the rollups keep every counter value to the minute)'),
            humidity: Deadband(1, 0, '%RH'),
            temperature: Deadband(0.2, 0, '°C'),
          },
          { default: {}, additionalProperties: false },
        ),
        retention_days: Type.Integer({
          minimum: 0,
          maximum: 36500,
          default: 7,
          description: 'raw readings older than this are deleted daily (the rollups keep their history); 0 keeps them',
        }),
        minute_retention_days: Type.Integer({
          minimum: 0,
          maximum: 36500,
          default: 365,
          description: 'per-minute rollups older than this are deleted daily; 0 keeps them',
        }),
        hour_retention_days: Type.Integer({
          minimum: 0,
          maximum: 36500,
          default: 0,
          description: 'hourly rollups older than this are deleted daily; 0 keeps them for ever',
        }),
        event_retention_days: Type.Integer({
          minimum: 0,
          maximum: 36500,
          default: 365,
          description: 'event-log entries older than this are deleted daily; 0 keeps them',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    udp: Type.Object(
      {
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 2390, description: '0 disables' }),
        host: Type.String({ minLength: 1, default: '0.0.0.0' }),
        report_period_ms: Type.Integer({
          minimum: 100,
          maximum: 600000,
          default: 5000,
          description:
            'the plugs broadcast this often; one datagram per plug and period is applied (published, offered to storage), the excess is counted',
        }),
        offline_timeout_ms: Type.Integer({
          minimum: 100,
          maximum: 600000,
          default: 15000,
          description: 'a plug with no broadcast for this long is offline (3 periods)',
        }),
        max_datagram_bytes: Type.Integer({ minimum: 64, maximum: 65507, default: 1024 }),
        max_plugs: Type.Integer({ minimum: 1, maximum: 1000, default: 50, description: 'new chip ids beyond this are ignored' }),
        ws_port: Port(80),
        ws_path: Type.String({ minLength: 1, pattern: '^/', default: '/ws' }),
        switch_timeout_ms: Type.Integer({
          minimum: 100,
          maximum: 120000,
          default: 11000,
          description: 'wait for a broadcast confirming a switch',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    safety: Type.Object(
      {
        humidity_limit: Type.Integer({ minimum: 1, maximum: 100, default: 80, description: '%RH; at or over it the relay opens' }),
        humidity_hysteresis: Type.Integer({ minimum: 0, maximum: 99, default: 10, description: '%RH; re-arm below limit minus this' }),
        power_limit_w: Type.Integer({ minimum: 0, maximum: 65535, default: 0, description: 'W; 0 = no limit' }),
        current_limit_a: Type.Number({ minimum: 0, maximum: 65, default: 0, description: 'A; 0 = no limit' }),
        auto_rearm: Type.Boolean({ default: false, description: 're-arm without a person once the condition clears' }),
        gateway_rule: Type.Boolean({ default: true, description: 'the gateway backup rule; off leaves protection to the nodes alone' }),
        relay_confirm_s: Type.Number({
          minimum: 0.5,
          maximum: 60,
          default: 3,
          description:
            'alarm when a relay still reports closed this long after an open command went out (Wi-Fi plugs: plus two udp.report_period_ms)',
        }),
        humidity_stale_s: Type.Number({
          minimum: 1,
          maximum: 3600,
          default: 15,
          description: 'alarm when a closed socket sends no humidity for this long',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    firmware: Type.Object(
      {
        bundle: Type.String({
          default: '',
          description: 'the bundle updates install (canplug firmware build writes it); empty: firmware-bundle.json beside the database',
        }),
        key: Type.String({
          default: '',
          description: 'Ed25519 key that signs bundles (PEM, made by canplug firmware build); empty: firmware-key.pem beside the database',
        }),
        bus_share: Type.Number({
          minimum: 0.05,
          maximum: 1,
          default: 0.5,
          description: 'share of the CAN bus a transfer may take; its frames also have the lowest priority ids',
        }),
        parallel: Type.Integer({
          minimum: 1,
          maximum: 8,
          default: 1,
          description: 'sockets updated at once; one at a time, a bad release cannot take the whole bus down',
        }),
        answer_timeout_ms: Type.Integer({
          minimum: 500,
          maximum: 120000,
          default: 30000,
          description: "the node's answer after a request's last frame (checking the signature takes seconds on an ESP32)",
        }),
        flow_timeout_ms: Type.Integer({
          minimum: 100,
          maximum: 10000,
          default: 1000,
          description: "the node's flow control after a block of frames (ISO 15765-2 N_Bs)",
        }),
        confirm_timeout_s: Type.Integer({
          minimum: 10,
          maximum: 3600,
          default: 180,
          description: 'after the commit: the node reboots and the new firmware confirms itself within this',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
