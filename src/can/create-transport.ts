/** Builds the configured transport. Only src/can knows which transports exist. */
import type { Logger } from '../log.js';
import { filtersForProtocol } from './filters.js';
import { SimTransport, VirtualBus } from './sim-transport.js';
import { SocketCanTransport } from './socketcan-transport.js';
import type { Transport } from './transport.js';

export interface TransportConfig {
  transport: 'sim' | 'socketcan';
  interface: string;
  protocol: 'v1' | 'seed';
  /** Sizes the socket's receive queue (one second of a full bus). */
  bitrate: number;
}

/**
 * `gateway`: the kernel filters what the process wakes for, only the ids the gateway decodes.
 * `safety`: the safety worker's own socket (the ids it checks), in the worker thread that opens it.
 * `monitor`: every frame (simulated nodes, which take commands, and `canplug sniff`).
 */
export type TransportRole = 'gateway' | 'safety' | 'monitor';

export async function createTransport(
  config: TransportConfig,
  log: Pick<Logger, 'debug'>,
  bus = new VirtualBus(),
  role: TransportRole = 'gateway',
): Promise<Transport> {
  if (config.transport === 'sim') return new SimTransport(bus);
  log.debug({ interface: config.interface, protocol: config.protocol, role }, 'SocketCAN transport');
  return new SocketCanTransport({
    interface: config.interface,
    bitrate: config.bitrate,
    filters: role === 'monitor' ? undefined : filtersForProtocol(config.protocol, role),
  });
}
