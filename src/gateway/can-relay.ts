/** Relay drivers for CAN devices: protocol v1 nodes (confirmed by their reply) and the legacy seed socket. */
import type { RelayActionName } from '../can/codec.js';
import type { CanBus } from '../can/can-bus.js';
import type { Commands } from './commands.js';
import type { Device } from './device.js';
import type { RelayDriver } from './control.js';
import { BusUnavailableError, RefusedError, UnavailableError } from './errors.js';

export class CanRelayDriver implements RelayDriver {
  constructor(private readonly commands: Commands) {}

  async setRelay(device: Device, action: RelayActionName, sent: () => void): Promise<boolean> {
    // An open is always attempted: a node that missed heartbeats may still be listening.
    if (!device.available && action !== 'open') throw new UnavailableError(`${device.name} is offline (no heartbeat)`);
    const reply = await this.commands.send(device.node!, { op: 'setRelay', action }, { sent });
    switch (reply.result) {
      case 'ok':
        return reply.status.relay;
      case 'interlocked': {
        const s = reply.status;
        const why = s.humidityLatched ? 'humidity interlock latched' : s.powerLatched ? 'over-power/over-current latch set' : 'interlock';
        const humidity = device.state.humidity !== undefined ? ` (humidity ${device.state.humidity} %RH)` : '';
        throw new RefusedError(`${device.name} refused to close: ${why} on the node${s.humidityLatched ? humidity : ''}`);
      }
      default:
        throw new Error(`${device.name} answered "${reply.result}" to set relay`);
    }
  }
}

/** The original socket has no replies: the command is sent and the state assumed. */
export class SeedRelayDriver implements RelayDriver {
  constructor(private readonly can: CanBus) {}

  async setRelay(device: Device, action: RelayActionName, sent: () => void): Promise<boolean> {
    const on = action === 'close' || (action === 'toggle' && device.state.relay !== true);
    if (!this.can.sendSeedRelay(on)) throw new BusUnavailableError('the CAN bus is down or its send queue is full');
    sent();
    return on;
  }
}
