/**
 * Per-device settings: some are the gateway's own (room, hidden, a Wi-Fi plug's ws_port), some live
 * on a CAN node and are sent to it first (report period, power-on state) and stored only once the
 * node accepted them.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Command } from '../can/codec.js';
import type { Commands } from '../gateway/commands.js';
import { UnavailableError } from '../gateway/control.js';
import type { Device } from '../gateway/device.js';
import type { Registry } from '../gateway/registry.js';
import { HttpError } from './errors.js';

export const DeviceSettings = Type.Object(
  {
    room: Type.Optional(Type.String({ maxLength: 64, description: 'shown on the dashboard to group devices' })),
    hidden: Type.Optional(Type.Boolean({ description: 'leave the device off the dashboard' })),
    report_period_ms: Type.Optional(
      Type.Integer({ minimum: 100, maximum: 60000, description: 'CAN sockets: how often the node reports, ms (sent to the node)' }),
    ),
    power_on_state: Type.Optional(
      Type.Union([Type.Literal('off'), Type.Literal('on'), Type.Literal('restore')], {
        description: 'CAN sockets: the relay after a power loss (sent to the node)',
      }),
    ),
    ws_port: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 65535, description: "Wi-Fi plugs: the port of this plug's WebSocket, instead of udp.ws_port" }),
    ),
  },
  { additionalProperties: false },
);
export type DeviceSettings = Static<typeof DeviceSettings>;

/** Sends a command to the device's node; a refusal or bad argument becomes a 4xx with the reason. */
export async function commandNode(commands: Commands, device: Device, command: Command, what: string): Promise<void> {
  if (device.kind !== 'can' || device.node === undefined) {
    throw new HttpError(400, `${device.name} is a ${device.kind} device; only CAN sockets (protocol v1) take ${what}`);
  }
  if (!device.available) throw new UnavailableError(`${device.name} is offline (no heartbeat), so it cannot take ${what}`);
  const reply = await commands.send(device.node, command);
  if (reply.result === 'ok') return;
  if (reply.result === 'badArgument') throw new HttpError(400, `${device.name} refused ${what} as out of its range`);
  throw new HttpError(409, `${device.name} answered "${reply.result}" to ${what}`);
}

/** Applies a settings patch: node settings are sent first, then everything is merged and stored. */
export async function applySettings(registry: Registry, commands: Commands, device: Device, patch: DeviceSettings): Promise<void> {
  if (patch.ws_port !== undefined && device.kind !== 'wifi') {
    throw new HttpError(400, `${device.name} is a ${device.kind} device; only Wi-Fi plugs take ws_port`);
  }
  if (patch.report_period_ms !== undefined) {
    await commandNode(commands, device, { op: 'setReportPeriod', ms: patch.report_period_ms }, 'report_period_ms');
  }
  if (patch.power_on_state !== undefined) {
    await commandNode(commands, device, { op: 'setPowerOnState', state: patch.power_on_state }, 'power_on_state');
  }
  // Merge: other features keep their own keys in the same settings object (safety limits).
  registry.saveSettings(device, { ...device.settings, ...patch });
  registry.changed(device);
}
