/** Builds the configured transport. Only src/can knows which transports exist. */
import type { Logger } from '../log.js';
import { SimTransport, VirtualBus } from './sim-transport.js';
import type { Transport } from './transport.js';

export interface TransportConfig {
  transport: 'sim' | 'socketcan';
  interface: string;
  protocol: 'v1' | 'seed';
}

export async function createTransport(config: TransportConfig, log: Logger, bus = new VirtualBus()): Promise<Transport> {
  if (config.transport === 'sim') return new SimTransport(bus);
  void log;
  throw new Error(`transport "${config.transport}" is not available in this build`);
}
