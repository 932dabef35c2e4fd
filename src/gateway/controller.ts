/**
 * The composition root: builds every part from the config, starts them in order, stops them in
 * reverse (features, API, MQTT, CAN, database). Each feature is started guarded, so one failing
 * feature is reported in health and does not take the daemon down.
 */
import { VERSION } from '../version.js';
import type { FastifyInstance } from 'fastify';
import { CanBus } from '../can/can-bus.js';
import type { SimSocket } from '../can/sim-socket.js';
import { createDemoSockets } from '../can/demo-sockets.js';
import type { SimSeedSocket } from '../can/sim-seed-socket.js';
import { VirtualBus } from '../can/sim-transport.js';
import { createTransport } from '../can/create-transport.js';
import { openDatabase, type Db } from '../db/database.js';
import { DeviceStore } from '../db/devices.js';
import { MqttNamespaceStore } from '../db/mqtt-namespace.js';
import { History } from '../db/history.js';
import { Recorder } from '../db/recorder.js';
import { RulesStore } from '../db/rules-store.js';
import { Retention, retentionDays } from '../db/retention.js';
import { BatchWriter } from '../db/writer.js';
import type { MqttConnection } from '../mqtt/connection.js';
import { DeviceTopics } from '../mqtt/device-topics.js';
import { Discovery } from '../mqtt/discovery.js';
import { BridgeApi } from '../mqtt/bridge-api.js';
import { loadNamespace, Namespace } from '../mqtt/namespace.js';
import { StatePolicy } from '../mqtt/state-policy.js';
import type { EmbeddedBroker } from '../mqtt/embedded-broker.js';
import { startGatewayMqtt } from '../mqtt/gateway-mqtt.js';
import { HttpServer } from '../api/server.js';
import { publicUrl } from '../api/public-url.js';
import type { Retry } from '../retry.js';
import { WifiRelayDriver } from '../wifi/plug-driver.js';
import { WifiPlugs } from '../wifi/wifi-plugs.js';
import { TokenStore } from '../api/auth.js';
import { tokenPath } from '../api/token.js';
import { EnergyHistory } from '../db/energy.js';
import type { HealthReport } from '../api/context.js';
import type { Logger } from '../log.js';
import { CanRelayDriver, SeedRelayDriver } from './can-relay.js';
import { Commands } from './commands.js';
import { exposureWarnings, redactConfig, storedReadingsPolicy, type Config } from './config.js';
import { DeviceControl } from './control.js';
import { EventBus } from './events.js';
import { monotonicMs } from './clock.js';
import { Metrics } from './metrics.js';
import { healthReport } from './health.js';
import { addRefusalMetrics } from './refusal-metrics.js';
import { Registry } from './registry.js';
import { Safety } from './safety.js';
import { EventLog } from '../db/event-log.js';
import { RulesEngine } from './rules.js';

export { VERSION };

/** A part of the gateway with a lifecycle; its constructor only stores dependencies. */
export interface Feature {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

export interface GatewayOptions {
  config: Config;
  log: Logger;
  /**
   * The simulated bus to join when `can.transport` is sim (tests that attach their own endpoints
   * first); by default a new one. The safety worker joins it too, by name.
   */
  bus?: VirtualBus;
}

export class Gateway {
  readonly config: Config;
  readonly log: Logger;
  readonly events = new EventBus();
  readonly metrics = new Metrics();
  readonly startedAt = Date.now();
  /** For uptime: monotonic, so a clock jump does not change it. */
  private readonly startedMono = monotonicMs();
  /** The simulated sockets when the transport is `sim`. */
  readonly simSockets: SimSocket[] = [];
  simSeedSocket: SimSeedSocket | undefined;
  virtualBus: VirtualBus | undefined;

  db!: Db;
  writer!: BatchWriter;
  registry!: Registry;
  can!: CanBus;
  commands!: Commands;
  control!: DeviceControl;
  mqtt!: MqttConnection;
  deviceTopics!: DeviceTopics;
  discovery: Discovery | undefined;
  bridgeApi!: BridgeApi;
  safety!: Safety;
  broker: EmbeddedBroker | undefined;
  /** Listening of the embedded broker (retried while its port is taken). */
  brokerBinding: Retry | undefined;
  http!: HttpServer;
  api!: FastifyInstance;
  wifi!: WifiPlugs;
  rules!: RulesEngine;
  /** The API token in force; undefined when `http.auth` is off. */
  tokens: TokenStore | undefined;

  private readonly features: { name: string; feature: Feature; error?: string }[] = [];
  private state: HealthReport['status'] = 'starting';
  private cleanups: (() => void)[] = [];

  constructor(private readonly options: GatewayOptions) {
    this.config = options.config;
    this.log = options.log;
  }

  private child(module: string): Logger {
    return this.log.child({ module });
  }

  async start(): Promise<void> {
    const c = this.config;
    const started = performance.now();
    for (const warning of exposureWarnings(c)) this.log.warn(warning);

    this.db = openDatabase(c.database.path, { log: this.child('db'), synchronous: c.database.synchronous });
    const storePolicy = storedReadingsPolicy(c.database);
    this.writer = new BatchWriter(this.db, { flushIntervalMs: c.database.flush_interval_ms, storePolicy, log: this.child('db') });
    this.writer.onFlush = (_n, ms) => this.metrics.dbFlushSeconds.observe(ms / 1000);
    this.writer.start();
    this.registry = new Registry({
      events: this.events,
      store: new DeviceStore(this.db, { energyWriter: this.writer }),
      log: this.child('registry'),
      heartbeatTimeoutMs: c.can.heartbeat_timeout_ms,
    });
    this.registry.load();
    const namespaces = new MqttNamespaceStore(this.db);
    const { base_topic: baseTopic, discovery_prefix: discoveryPrefix } = c.mqtt;
    const { gatewayId, discoveryPrefix: previousPrefix } = loadNamespace(namespaces, this.registry.list().length > 0, baseTopic, discoveryPrefix);
    const recorder = new Recorder(this.events, this.writer);
    recorder.start();
    this.cleanups.push(() => recorder.stop());

    if (c.can.transport === 'sim') this.virtualBus = this.options.bus ?? new VirtualBus();
    const transport = await createTransport(c.can, this.child('can'), this.virtualBus);
    this.can = new CanBus(transport, c.can.protocol, this.child('can'));
    this.commands = new Commands(this.can, c.can.command_timeout_ms);
    this.control = new DeviceControl(this.registry, this.events);
    this.control.registerDriver('can', new CanRelayDriver(this.commands));
    this.control.registerDriver('seed', new SeedRelayDriver(this.can));
    // Two nodes on one id: a close would reach both (docs/reliability.md, "Two nodes, one node id").
    this.control.addGuard((d) => (d.state.conflict ? `${d.name}: ${d.state.conflict}; closing is refused until one of them gets another node id` : undefined));
    this.wireCan();
    await this.can.start();
    this.commands.start();
    this.registry.start();
    // Safety starts before anything can switch a relay, and is not a guarded feature: without it the
    // daemon must not run. It stops last, after everything that could switch a relay.
    this.safety = new Safety({
      events: this.events,
      registry: this.registry,
      control: this.control,
      commands: this.commands,
      config: c.safety,
      can: c.can,
      busName: this.virtualBus?.name,
      log: this.child('safety'),
    });
    await this.safety.start();
    this.metrics.sources.canplug_safety_trips_total = () => this.safety.trips;
    this.metrics.sources.canplug_safety_worker_trips_total = () => this.safety.worker.trips;
    this.metrics.sources.canplug_safety_worker_restarts_total = () => this.safety.worker.restarts;
    this.startSimulatedSockets();

    await this.startMqtt();
    this.deviceTopics = new DeviceTopics({
      connection: this.mqtt,
      events: this.events,
      registry: this.registry,
      control: this.control,
      policy: new StatePolicy(c.mqtt.publish, monotonicMs),
      baseTopic,
      log: this.child('mqtt'),
    });
    await this.startFeature('mqtt-devices', this.deviceTopics);
    this.wifi = new WifiPlugs({ registry: this.registry, config: c.udp, log: this.child('wifi') });
    this.control.registerDriver('wifi', new WifiRelayDriver({ plugs: this.wifi, config: c.udp, log: this.child('wifi') }));
    this.metrics.sources.canplug_udp_datagrams_received_total = () => this.wifi.counters.received;
    this.metrics.sources.canplug_udp_datagrams_malformed_total = () => this.wifi.counters.malformed;
    await this.startFeature('wifi-plugs', this.wifi);
    this.rules = new RulesEngine({
      store: new RulesStore(this.db),
      registry: this.registry,
      control: this.control,
      events: this.events,
      mqtt: this.mqtt,
      baseTopic,
      log: this.child('rules'),
    });
    this.metrics.sources.canplug_rules_fired_total = () => this.rules.fired;
    await this.startFeature('rules', this.rules);
    this.bridgeApi = new BridgeApi({
      connection: this.mqtt,
      events: this.events,
      registry: this.registry,
      safety: this.safety,
      commands: this.commands,
      baseTopic,
      discoveryPrefix: c.mqtt.discovery_prefix,
      gatewayId,
      version: VERSION,
      configSummary: () => this.configSummary(),
      health: () => this.health(),
      log: this.child('bridge-api'),
    });
    await this.startFeature('mqtt-bridge-api', this.bridgeApi);
    await this.startFeature('retention', new Retention({ db: this.db, retention: retentionDays(c.database), log: this.child('db') }));

    this.tokens = this.loadToken();
    this.http = new HttpServer({
      log: this.child('http'),
      ctx: {
        registry: this.registry,
        control: this.control,
        commands: this.commands,
        history: new History(this.db, { storeIntervalMs: storePolicy?.maxIntervalMs }),
        eventLog: new EventLog(this.db),
        safety: this.safety,
        flushPending: () => this.writer.flush(),
        rules: this.rules,
        energy: new EnergyHistory(this.db),
        events: this.events,
        health: () => this.health(),
        configSummary: () => this.configSummary(),
        metrics: () => this.metrics.text(),
        http: c.http,
        tokens: this.tokens,
        version: VERSION,
      },
    });
    // A port that is taken is retried in the background: the bus, safety and storage run meanwhile.
    await this.http.start();
    this.api = this.http.app;
    addRefusalMetrics(this);
    // Each device's config links to its dashboard page, on the port bound (or configured, while it is taken).
    if (c.mqtt.discovery) {
      this.discovery = new Discovery({
        connection: this.mqtt,
        events: this.events,
        registry: this.registry,
        baseTopic,
        prefix: c.mqtt.discovery_prefix,
        ...(previousPrefix !== '' ? { previousPrefix } : {}),
        gatewayId,
        dashboardUrl: publicUrl(c.http, this.api.server.address()),
        version: VERSION,
        log: this.child('discovery'),
      });
      await this.startFeature('mqtt-discovery', this.discovery);
    }
    const namespace = new Namespace({ store: namespaces, connection: this.mqtt, registry: this.registry, baseTopic, discoveryPrefix, log: this.child('mqtt') });
    await this.startFeature('mqtt-namespace', namespace);

    // Nodes that were already running announce themselves now instead of at their next heartbeat.
    this.can.discover();
    this.state = 'ok';
    this.bridgeApi.publishHealth();
    this.log.info({ ms: Math.round(performance.now() - started) }, 'canplug ready');
  }

  async stop(): Promise<void> {
    if (this.state === 'stopping') return;
    this.state = 'stopping';
    for (const { name, feature } of [...this.features].reverse()) {
      try {
        await feature.stop();
      } catch (error) {
        this.log.error({ feature: name, err: (error as Error).message }, 'feature failed to stop');
      }
    }
    await this.http?.stop();
    // Readings accepted so far are written now, before the network part of the shutdown (which can
    // hang on a dead broker until the 5 s forced exit); what arrives later is written at the end.
    this.writer?.flush();
    this.deviceTopics?.publishAllOffline();
    await this.mqtt?.stop();
    this.brokerBinding?.stop();
    await this.broker?.close();
    for (const socket of this.simSockets) socket.stop();
    this.simSeedSocket?.stop();
    this.commands?.stop();
    this.registry?.stop();
    await this.safety?.stop();
    await this.can?.stop();
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.writer?.stop();
    this.db?.close();
    const written = this.writer?.health();
    this.log.info({ readings_written: written?.readingsWritten, readings_dropped: written?.readingsDropped, pending: written?.pending }, 'canplug stopped');
  }

  /** Starts a feature guarded: a failure is logged and shown in health, the daemon goes on. */
  async startFeature(name: string, feature: Feature): Promise<void> {
    const entry: (typeof this.features)[number] = { name, feature };
    this.features.push(entry);
    try {
      await feature.start();
    } catch (error) {
      entry.error = (error as Error).message;
      this.log.error({ feature: name, err: entry.error }, 'feature failed to start; continuing without it');
    }
  }

  httpUrl(): string {
    return this.http.url();
  }

  mqttUrl(): string {
    return this.broker?.url ?? this.config.mqtt.url;
  }

  health(): HealthReport {
    return healthReport(this, this.state, this.features.filter((f) => f.error).map((f) => ({ feature: f.name, error: f.error! })), this.startedMono);
  }

  /** The config without secrets (bridge info, REST). */
  configSummary(): unknown {
    return redactConfig(this.config);
  }

  /** The API token (created on first start); its path is logged, never the token. */
  private loadToken(): TokenStore | undefined {
    if (!this.config.http.auth) {
      this.log.warn('http.auth is off: anyone who can reach the API can switch sockets');
      return undefined;
    }
    const tokens = new TokenStore(tokenPath(this.config.database.path, this.config.http.token_file), this.child('http'));
    const created = tokens.load();
    this.log.info({ token_file: tokens.path, created }, created ? 'API token created' : 'API token loaded');
    return tokens;
  }

  private startSimulatedSockets(): void {
    const bus = this.virtualBus;
    if (!bus) return;
    const c = this.config;
    const { sockets, seed } = createDemoSockets({
      protocol: c.can.protocol,
      nodes: c.can.sim.nodes,
      reportPeriodMs: c.can.sim.report_period_ms,
      humidityLimit: c.safety.humidity_limit,
      hysteresis: c.safety.humidity_hysteresis,
      wander: c.can.sim.wander,
    });
    this.simSockets.push(...sockets);
    this.simSeedSocket = seed;
    for (const socket of [...sockets, ...(seed ? [seed] : [])]) socket.start(bus.attach((frame) => socket.receive(frame)).send);
  }

  private wireCan(): void {
    const lastAsked = new Map<number, number>();
    this.can.on('message', (message) => {
      this.registry.handleMessage(message);
      // A node we have not heard a heartbeat from: ask it to announce itself (at most every 5 s).
      if ('node' in message && message.type !== 'heartbeat' && message.type !== 'command' && !this.registry.canNode(message.node)) {
        const now = monotonicMs();
        if (now - (lastAsked.get(message.node) ?? -Infinity) > 5000) {
          lastAsked.set(message.node, now);
          this.can.discover(message.node);
        }
      }
    });
    this.can.on('seed', (reading) => this.registry.handleSeed(reading));
    this.can.on('down', (reason) => this.log.warn({ reason }, 'CAN interface down'));
    this.can.on('up', () => this.log.info('CAN interface up'));
    const m = this.metrics.sources;
    m.canplug_can_frames_received_total = () => this.can.counters.received;
    m.canplug_can_frames_sent_total = () => this.can.counters.sent;
    m.canplug_can_frames_unknown_total = () => this.can.counters.unknown;
    m.canplug_can_frames_malformed_total = () => this.can.counters.malformed;
    m.canplug_can_frames_lost_total = () => this.registry.framesLost;
    m.canplug_can_bus_errors_total = () => this.can.counters.busErrors + this.can.transport.stats().busErrors;
    m.canplug_can_kernel_drops_total = () => this.can.transport.stats().kernelDrops ?? 0;
    m.canplug_can_receive_queue_bytes = () => this.can.transport.stats().receiveQueue?.bytes ?? 0;
    m.canplug_db_readings_written_total = () => this.writer.health().readingsWritten;
    m.canplug_devices_online = () => this.registry.list().filter((d) => d.available).length;
  }

  private async startMqtt(): Promise<void> {
    const started = await startGatewayMqtt(this.config.mqtt, this.child('mqtt'), (ms) => this.metrics.mqttRoundTripSeconds.observe(ms / 1000));
    ({ connection: this.mqtt, broker: this.broker, brokerBinding: this.brokerBinding } = started);
    this.metrics.sources.canplug_mqtt_messages_published_total = () => this.mqtt.published;
    this.metrics.sources.canplug_mqtt_messages_rejected_total = () => this.mqtt.rejected;
    this.metrics.sources.canplug_mqtt_messages_dropped_total = () => this.mqtt.dropped;
  }
}
