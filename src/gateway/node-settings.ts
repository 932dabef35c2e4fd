/**
 * Per-device settings: some are the gateway's own (room, hidden, a Wi-Fi plug's ws_port), some live
 * on a CAN node and are sent to it first (report period, power-on state) and stored only once the
 * node accepted them. The same rules for every interface: REST and MQTT map the errors.
 */
import type { Command } from '../can/codec.js';
import type { DeviceSettings } from '../contracts/device.js';
import type { Commands } from './commands.js';
import type { Device } from './device.js';
import { CommandArgumentError, InvalidRequestError, RefusedError, UnavailableError } from './errors.js';
import type { Registry } from './registry.js';

/** Sends a command to the device's node; a refusal or a bad argument is thrown with the reason. */
export async function commandNode(commands: Commands, device: Device, command: Command, what: string): Promise<void> {
  if (device.kind !== 'can' || device.node === undefined) {
    throw new InvalidRequestError(`${device.name} is a ${device.kind} device; only CAN sockets (protocol v1) take ${what}`);
  }
  if (!device.available) throw new UnavailableError(`${device.name} is offline (no heartbeat), so it cannot take ${what}`);
  const reply = await commands.send(device.node, command);
  if (reply.result === 'ok') return;
  if (reply.result === 'badArgument') throw new CommandArgumentError(`${device.name} refused ${what} as out of its range`);
  throw new RefusedError(`${device.name} answered "${reply.result}" to ${what}`);
}

/** Applies a settings patch: node settings are sent first, then everything is merged and stored. */
export async function applySettings(registry: Registry, commands: Commands, device: Device, patch: DeviceSettings): Promise<void> {
  if (patch.ws_port !== undefined && device.kind !== 'wifi') {
    throw new InvalidRequestError(`${device.name} is a ${device.kind} device; only Wi-Fi plugs take ws_port`);
  }
  if (patch.report_period_ms !== undefined) {
    await commandNode(commands, device, { op: 'setReportPeriod', ms: patch.report_period_ms }, 'report_period_ms');
  }
  if (patch.power_on_state !== undefined) {
    await commandNode(commands, device, { op: 'setPowerOnState', state: patch.power_on_state }, 'power_on_state');
  }
  // Merge: other features keep their own keys in the same settings object (safety limits).
  registry.update(device, { settings: { ...device.settings, ...patch } });
}
