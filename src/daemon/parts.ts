/**
 * The parts the composition root builds and wires, by name. Health and metrics read them through
 * this one type; whole-daemon tests look at them through Gateway.parts. Nothing outside src/daemon
 * receives the whole set: each part gets only its own dependencies.
 */
import type { FastifyInstance } from 'fastify';
import type { CanBus } from '../can/can-bus.js';
import type { SimSeedSocket } from '../can/sim-seed-socket.js';
import type { SimSocket } from '../can/sim-socket.js';
import type { VirtualBus } from '../can/sim-transport.js';
import type { TokenStore } from '../api/auth.js';
import type { HttpServer } from '../api/server.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/database.js';
import type { BatchWriter } from '../db/writer.js';
import type { CanNodes } from '../gateway/can-nodes.js';
import type { Commands } from '../gateway/commands.js';
import type { DeviceControl } from '../gateway/control.js';
import type { EventBus } from '../gateway/events.js';
import type { Registry } from '../gateway/registry.js';
import type { RulesEngine } from '../gateway/rules.js';
import type { Safety } from '../gateway/safety.js';
import type { MqttConnection } from '../mqtt/connection.js';
import type { Discovery } from '../mqtt/discovery.js';
import type { EmbeddedBroker } from '../mqtt/embedded-broker.js';
import type { Retry } from '../retry.js';
import type { WifiPlugs } from '../wifi/wifi-plugs.js';
import type { Metrics } from './metrics.js';

export interface Parts {
  config: Config;
  events: EventBus;
  metrics: Metrics;
  db: Db;
  writer: BatchWriter;
  registry: Registry;
  can: CanBus;
  canNodes: CanNodes;
  commands: Commands;
  control: DeviceControl;
  safety: Safety;
  /** The simulated bus and sockets when `can.transport` is sim. */
  sim: { bus?: VirtualBus; sockets: SimSocket[]; seed?: SimSeedSocket };
  /** The embedded broker, when no `mqtt.url` is configured. */
  broker?: EmbeddedBroker;
  /** The embedded broker's listening, retried while its port is taken. */
  brokerBinding?: Retry;
  mqtt: MqttConnection;
  /** Home Assistant discovery, when `mqtt.discovery` is on. */
  discovery?: Discovery;
  wifi: WifiPlugs;
  rules: RulesEngine;
  /** The API token in force; undefined when `http.auth` is off. */
  tokens?: TokenStore;
  /** The REST API's listening (retried while its port is taken); `api` is its Fastify app. */
  http: HttpServer;
  api: FastifyInstance;
}
