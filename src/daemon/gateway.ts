/**
 * The composition root: builds every part from the config and starts it, in order (database, CAN,
 * safety, simulated sockets, MQTT, features, REST); stop() undoes what started, in reverse. Each
 * feature is started guarded, so one failing feature is reported in health and does not take the
 * daemon down. Nothing in src imports this folder but the `canplug run` command; each part gets
 * only its own dependencies. docs/architecture.md draws the whole.
 */
import type { FastifyInstance } from 'fastify';
import { publicUrl } from '../api/public-url.js';
import { HttpServer } from '../api/server.js';
import { openTokenStore, type TokenStore } from '../api/auth.js';
import { CanBus } from '../can/can-bus.js';
import { createDemoSockets } from '../can/demo-sockets.js';
import { createTransport } from '../can/create-transport.js';
import { VirtualBus } from '../can/sim-transport.js';
import { exposureWarnings, redactConfig, type Config } from '../config/config.js';
import type { HealthReport, HealthStatus } from '../contracts/health.js';
import { openDatabase, type Db } from '../db/database.js';
import { SqliteDeviceStore } from '../db/devices.js';
import { EnergyHistory } from '../db/energy.js';
import { EventLog } from '../db/event-log.js';
import { History } from '../db/history.js';
import { MqttNamespaceStore } from '../db/mqtt-namespace.js';
import { Recorder } from '../db/recorder.js';
import { Retention, retentionDays } from '../db/retention.js';
import { SqliteRulesStore } from '../db/rules-store.js';
import { BatchWriter, storedReadingsPolicy } from '../db/writer.js';
import { CanNodes } from '../gateway/can-nodes.js';
import { CanRelayDriver, SeedRelayDriver } from '../gateway/can-relay.js';
import { monotonicMs } from '../gateway/clock.js';
import { Commands } from '../gateway/commands.js';
import { DeviceControl } from '../gateway/control.js';
import { EventBus } from '../gateway/events.js';
import { FirmwareUpdater } from '../gateway/firmware-updater.js';
import type { Feature } from '../gateway/feature.js';
import { Registry } from '../gateway/registry.js';
import { RulesEngine } from '../gateway/rules.js';
import { Safety } from '../gateway/safety.js';
import { BridgeApi } from '../mqtt/bridge-api.js';
import type { MqttConnection } from '../mqtt/connection.js';
import { DeviceTopics } from '../mqtt/device-topics.js';
import { Discovery } from '../mqtt/discovery.js';
import { FirmwareEntity } from '../mqtt/firmware-entity.js';
import type { EmbeddedBroker } from '../mqtt/embedded-broker.js';
import { startGatewayMqtt } from '../mqtt/gateway-mqtt.js';
import { loadNamespace, Namespace } from '../mqtt/namespace.js';
import { StatePolicy } from '../mqtt/state-policy.js';
import type { Logger } from '../log.js';
import type { Retry } from '../retry.js';
import { VERSION } from '../version.js';
import { WifiRelayDriver } from '../wifi/plug-driver.js';
import { WifiPlugs } from '../wifi/wifi-plugs.js';
import { printBanner } from './banner.js';
import { healthReport } from './health.js';
import { readCountersFrom } from './metric-sources.js';
import { Metrics } from './metrics.js';
import type { Parts } from './parts.js';

export interface GatewayOptions {
  config: Config;
  log: Logger;
  /**
   * The simulated bus to join when `can.transport` is sim (tests that attach their own endpoints
   * first); by default a new one. The safety worker joins it too, by name.
   */
  bus?: VirtualBus;
}

/** A step start() took, and how stop() undoes it. */
interface Started {
  name: string;
  stop: () => void | Promise<void>;
}

export class Gateway {
  private readonly config: Config;
  private readonly log: Logger;
  private readonly events: EventBus;
  private readonly metrics = new Metrics();
  /** For uptime: monotonic, so a clock jump does not change it. */
  private readonly startedMono = monotonicMs();
  private readonly started: Started[] = [];
  private readonly failedFeatures: { feature: string; error: string }[] = [];
  private state: HealthStatus = 'starting';
  private readonly sim: Parts['sim'] = { sockets: [] };
  private db!: Db;
  private writer!: BatchWriter;
  private registry!: Registry;
  private can!: CanBus;
  private canNodes!: CanNodes;
  private commands!: Commands;
  private control!: DeviceControl;
  private safety!: Safety;
  private broker: EmbeddedBroker | undefined;
  /** The embedded broker's listening, retried while its port is taken. */
  private brokerBinding: Retry | undefined;
  private mqtt!: MqttConnection;
  private discovery: Discovery | undefined;
  private wifi!: WifiPlugs;
  private rules!: RulesEngine;
  private firmware!: FirmwareUpdater;
  private bridge!: BridgeApi;
  private tokens: TokenStore | undefined;
  private http: HttpServer | undefined;
  private api!: FastifyInstance;
  /** This gateway's id and topics as stored (mqtt/namespace.ts): read with the devices, before anything is new. */
  private namespace!: { store: MqttNamespaceStore } & ReturnType<typeof loadNamespace>;

  constructor(private readonly options: GatewayOptions) {
    this.config = options.config;
    this.log = options.log;
    this.events = new EventBus(this.child('events'));
  }

  async start(): Promise<void> {
    const began = performance.now();
    for (const warning of exposureWarnings(this.config)) this.log.warn(warning);
    this.openStorage();
    await this.startCan();
    await this.startSafety();
    this.startSimulatedSockets();
    await this.startMqtt();
    await this.startFeatures();
    await this.startApi();
    await this.startDiscovery();
    readCountersFrom(this.metrics, this.parts);
    // Nodes that were already running announce themselves now instead of at their next heartbeat.
    this.can.discover();
    this.state = 'ok';
    this.bridge.publishHealth();
    this.log.info({ ms: Math.round(performance.now() - began) }, 'canplug ready');
    printBanner(this.log, { config: this.config, httpUrl: this.httpUrl(), mqttUrl: this.mqttUrl(), tokenFile: this.tokens?.path });
  }

  /** Undoes every step start() took, newest first; one that fails is logged and the rest still stop. */
  async stop(): Promise<void> {
    if (this.state === 'stopping') return;
    this.state = 'stopping';
    for (const { name, stop } of this.started.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        this.log.error({ part: name, err: (error as Error).message }, 'failed to stop');
      }
    }
    const written = this.writer?.health();
    this.log.info(
      { readings_written: written?.readingsWritten, readings_dropped: written?.readingsDropped, pending: written?.pending },
      'canplug stopped',
    );
  }

  /** The parts, for whole-daemon tests and the bench to look into; nothing in src reads them from here. */
  get parts(): Parts {
    const http = this.http;
    if (!this.api || !http) throw new Error('the gateway has not started');
    return {
      config: this.config,
      events: this.events,
      metrics: this.metrics,
      db: this.db,
      writer: this.writer,
      registry: this.registry,
      can: this.can,
      canNodes: this.canNodes,
      commands: this.commands,
      control: this.control,
      safety: this.safety,
      sim: this.sim,
      broker: this.broker,
      brokerBinding: this.brokerBinding,
      mqtt: this.mqtt,
      discovery: this.discovery,
      wifi: this.wifi,
      rules: this.rules,
      tokens: this.tokens,
      http,
      api: this.api,
    };
  }

  health(): HealthReport {
    const { config, can, canNodes, registry, writer, safety, mqtt, broker, brokerBinding, discovery, wifi, http } = this;
    const parts = { config, can, canNodes, registry, writer, safety, mqtt, broker, brokerBinding, discovery, wifi, http };
    return healthReport({ parts, state: this.state, failed: this.failedFeatures, mqttUrl: this.mqttUrl(), startedMono: this.startedMono });
  }

  /** Writes the readings and events accepted so far (the forced exit of a shutdown that hangs). */
  flushPending(): void {
    this.writer?.flush();
  }

  /** Whether the broker is connected, or refused this gateway (another owns the base topic), and why not (the service manager's status line). */
  mqttStatus(): { connected: boolean; refused: boolean; error?: string } {
    return { connected: this.mqtt.connected, refused: this.mqtt.refused, ...(this.mqtt.error ? { error: this.mqtt.error } : {}) };
  }

  /** Runs `listener` at every later connect to the broker and every loss of it. */
  onMqttChange(listener: () => void): void {
    this.mqtt.on('connect', listener);
    this.mqtt.on('close', listener);
  }

  httpUrl(): string {
    return this.http!.url();
  }

  mqttUrl(): string {
    return this.broker?.url ?? this.config.mqtt.url;
  }

  private child(module: string): Logger {
    return this.log.child({ module });
  }

  private step(name: string, stop: Started['stop']): void {
    this.started.push({ name, stop });
  }

  /** Starts a feature guarded: a failure is logged and shown in health, the daemon goes on. */
  private async startFeature(name: string, feature: Feature): Promise<void> {
    this.step(name, () => feature.stop());
    try {
      await feature.start();
    } catch (error) {
      const message = (error as Error).message;
      this.failedFeatures.push({ feature: name, error: message });
      this.log.error({ feature: name, err: message }, 'feature failed to start; continuing without it');
    }
  }

  /** The database, the batched writer, the registry with the devices of earlier runs, and what records readings. */
  private openStorage(): void {
    const c = this.config.database;
    this.db = openDatabase(c.path, { log: this.child('db'), synchronous: c.synchronous });
    this.step('database', () => {
      this.db.close();
    });
    this.writer = new BatchWriter(this.db, {
      flushIntervalMs: c.flush_interval_ms,
      storePolicy: storedReadingsPolicy(c),
      log: this.child('db'),
    });
    this.writer.onFlush = (_n, ms) => this.metrics.dbFlushSeconds.observe(ms / 1000);
    this.writer.start();
    this.step('writer', () => this.writer.stop());
    this.registry = new Registry({
      events: this.events,
      store: new SqliteDeviceStore(this.db, { energyWriter: this.writer }),
      log: this.child('registry'),
      heartbeatTimeoutMs: this.config.can.heartbeat_timeout_ms,
    });
    this.registry.load();
    const store = new MqttNamespaceStore(this.db);
    const { base_topic: baseTopic, discovery_prefix: discoveryPrefix } = this.config.mqtt;
    this.namespace = { store, ...loadNamespace(store, this.registry.list().length > 0, baseTopic, discoveryPrefix) };
    const recorder = new Recorder(this.events, this.writer);
    recorder.start();
    this.step('recorder', () => recorder.stop());
  }

  /** The bus, its nodes as devices, commands and the one switching path with its drivers for CAN devices. */
  private async startCan(): Promise<void> {
    const c = this.config.can;
    if (c.transport === 'sim') this.sim.bus = this.options.bus ?? new VirtualBus();
    this.can = new CanBus(await createTransport(c, this.child('can'), this.sim.bus), c.protocol, this.child('can'));
    this.can.on('down', (reason) => this.log.warn({ reason }, 'CAN interface down'));
    this.can.on('up', () => this.log.info('CAN interface up'));
    this.commands = new Commands(this.can, c.command_timeout_ms);
    this.control = new DeviceControl(this.registry, this.events);
    this.control.registerDriver('can', new CanRelayDriver(this.commands));
    this.control.registerDriver('seed', new SeedRelayDriver(this.can));
    // Two nodes on one id: a close would reach both (docs/reliability.md, "Two nodes, one node id").
    this.control.addGuard((d) =>
      d.state.conflict ? `${d.name}: ${d.state.conflict}; closing is refused until one of them gets another node id` : undefined,
    );
    this.canNodes = new CanNodes({ registry: this.registry, events: this.events, bus: this.can, log: this.child('registry') });
    this.canNodes.start();
    this.step('can-nodes', () => this.canNodes.stop());
    await this.can.start();
    this.step('can', () => this.can.stop());
    this.commands.start();
    this.step('commands', () => this.commands.stop());
    this.registry.start();
    this.step('registry', () => this.registry.stop());
  }

  /**
   * Safety starts before anything can switch a relay, and is not a guarded feature: without it the
   * daemon must not run. It stops after everything that could switch a relay.
   */
  private async startSafety(): Promise<void> {
    const { safety, can } = this.config;
    this.safety = new Safety({
      events: this.events,
      registry: this.registry,
      control: this.control,
      commands: this.commands,
      config: safety,
      can,
      busName: this.sim.bus?.name,
      wifiReportPeriodMs: this.config.udp.report_period_ms,
      log: this.child('safety'),
    });
    this.step('safety', () => this.safety.stop());
    await this.safety.start();
  }

  private startSimulatedSockets(): void {
    const bus = this.sim.bus;
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
    Object.assign(this.sim, { sockets, seed });
    for (const socket of [...sockets, ...(seed ? [seed] : [])]) {
      socket.start(bus.attach((frame) => socket.receive(frame)).send);
      this.step('simulated socket', () => socket.stop());
    }
  }

  /** The embedded broker (without `mqtt.url`; a taken port is retried) and the gateway's connection. */
  private async startMqtt(): Promise<void> {
    const { connection, broker, brokerBinding } = await startGatewayMqtt(this.config.mqtt, this.child('mqtt'), (ms) =>
      this.metrics.mqttRoundTripSeconds.observe(ms / 1000),
    );
    Object.assign(this, { mqtt: connection, broker, brokerBinding });
    if (broker) this.step('embedded broker', () => broker.close());
    if (brokerBinding) this.step('embedded broker listening', () => brokerBinding.stop());
    this.step('mqtt', () => connection.stop());
    // Stopped before MQTT: what was accepted is written before the network part of the shutdown
    // (which can hang on a dead broker until the 5 s forced exit); what arrives later at the end.
    this.step('flush', () => void this.writer.flush());
  }

  private async startFeatures(): Promise<void> {
    const c = this.config;
    const { events, registry, control, mqtt: connection } = this;
    const baseTopic = c.mqtt.base_topic;
    const policy = new StatePolicy(c.mqtt.publish, monotonicMs);
    await this.startFeature(
      'mqtt-devices',
      new DeviceTopics({ connection, events, registry, control, policy, baseTopic, log: this.child('mqtt') }),
    );
    this.wifi = new WifiPlugs({ registry, config: c.udp, log: this.child('wifi') });
    control.registerDriver('wifi', new WifiRelayDriver({ plugs: this.wifi, config: c.udp, log: this.child('wifi') }));
    await this.startFeature('wifi-plugs', this.wifi);
    this.rules = new RulesEngine({
      store: new SqliteRulesStore(this.db),
      registry,
      control,
      events,
      mqtt: connection,
      baseTopic,
      log: this.child('rules'),
    });
    await this.startFeature('rules', this.rules);
    this.firmware = new FirmwareUpdater({
      bus: this.can,
      commands: this.commands,
      registry,
      control,
      events,
      config: c,
      log: this.child('firmware'),
    });
    await this.startFeature('firmware-updates', this.firmware);
    this.bridge = new BridgeApi({
      connection,
      events,
      registry,
      safety: this.safety,
      commands: this.commands,
      baseTopic,
      discoveryPrefix: c.mqtt.discovery_prefix,
      gatewayId: this.namespace.gatewayId,
      version: VERSION,
      configSummary: () => redactConfig(c),
      health: () => this.health(),
      log: this.child('bridge-api'),
    });
    await this.startFeature('mqtt-bridge-api', this.bridge);
    await this.startFeature('retention', new Retention({ db: this.db, retention: retentionDays(c.database), log: this.child('db') }));
  }

  /** REST and the dashboard; a taken port is retried in the background while the bus, safety and storage run. */
  private async startApi(): Promise<void> {
    const http = this.config.http;
    this.tokens = openTokenStore(http, this.config.database.path, this.child('http'));
    const server = new HttpServer({
      log: this.child('http'),
      ctx: {
        registry: this.registry,
        control: this.control,
        commands: this.commands,
        history: new History(this.db, { storeIntervalMs: storedReadingsPolicy(this.config.database)?.maxIntervalMs }),
        eventLog: new EventLog(this.db),
        safety: this.safety,
        flushPending: () => this.writer.flush(),
        rules: this.rules,
        firmware: this.firmware,
        energy: new EnergyHistory(this.db),
        events: this.events,
        health: () => this.health(),
        configSummary: () => redactConfig(this.config),
        metrics: () => this.metrics.text(),
        http,
        tokens: this.tokens,
        version: VERSION,
      },
    });
    this.http = server;
    this.step('api', () => server.stop());
    await server.start();
    this.api = server.app;
  }

  /** After the API: each device's discovery config links to its dashboard page, on the port bound (or configured, while it is taken). */
  private async startDiscovery(): Promise<void> {
    const c = this.config;
    const { events, registry, mqtt: connection } = this;
    const { store, gatewayId, discoveryPrefix: previousPrefix } = this.namespace;
    const baseTopic = c.mqtt.base_topic;
    if (c.mqtt.discovery) {
      this.discovery = new Discovery({
        connection,
        events,
        registry,
        baseTopic,
        prefix: c.mqtt.discovery_prefix,
        ...(previousPrefix !== '' ? { previousPrefix } : {}),
        gatewayId,
        dashboardUrl: publicUrl(c.http, this.api.server.address()),
        version: VERSION,
        log: this.child('discovery'),
      });
      await this.startFeature('mqtt-discovery', this.discovery);
      const { discovery } = this;
      const entity = {
        connection,
        events,
        registry,
        updater: this.firmware,
        baseTopic,
        prefix: c.mqtt.discovery_prefix,
        ...(previousPrefix !== '' ? { previousPrefix } : {}),
        version: VERSION,
      };
      await this.startFeature(
        'mqtt-firmware-entity',
        new FirmwareEntity({ ...entity, deviceIdentifier: (d) => discovery.nodeId(d.key), log: this.child('discovery') }),
      );
    }
    const namespace = new Namespace({
      store,
      connection,
      registry,
      baseTopic,
      discoveryPrefix: c.mqtt.discovery_prefix,
      log: this.child('mqtt'),
    });
    await this.startFeature('mqtt-namespace', namespace);
  }
}
