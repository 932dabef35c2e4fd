/**
 * Switching a Wi-Fi plug: the firmware's WebSocket command `save_thing` for thing 1 ("Plug"),
 * sent to the address its broadcasts come from. The switch counts as done when a broadcast shows
 * the new state (the reply only says the plug stored the value in its flash); see docs/wifi-plugs.md.
 */
import WebSocket from 'ws';
import type { RelayActionName } from '../can/codec.js';
import type { Config } from '../gateway/config.js';
import { CommandTimeoutError } from '../gateway/commands.js';
import { UnavailableError, type RelayDriver } from '../gateway/control.js';
import type { Device } from '../gateway/device.js';
import type { Logger } from '../log.js';
import { Thing } from './datagram.js';
import type { WifiPlugs } from './wifi-plugs.js';

/** The firmware's thing type for a switch. */
const SWITCH_TYPE = 1;

export interface PlugDriverDeps {
  plugs: WifiPlugs;
  config: Config['udp'];
  log: Logger;
}

export class WifiRelayDriver implements RelayDriver {
  constructor(private readonly deps: PlugDriverDeps) {}

  async setRelay(device: Device, action: RelayActionName): Promise<boolean> {
    const { plugs, config, log } = this.deps;
    const seconds = config.offline_timeout_ms / 1000;
    if (!device.available) throw new UnavailableError(`${device.name} is offline (no broadcast for ${seconds} s)`);
    const address = plugs.address(device);
    if (!address) throw new UnavailableError(`${device.name} has not broadcast since the gateway started; its address is unknown`);
    const on = action === 'close' || (action === 'toggle' && device.state.relay !== true);
    const url = plugUrl(device, address, config);
    // Expect the confirming broadcast before sending: it may arrive before the reply does.
    const expectation = plugs.expectRelay(device, on, config.switch_timeout_ms);
    try {
      const reply = await saveThing(url, { id: Thing.plug, type: SWITCH_TYPE, value: on ? 1 : 0, override: true }, config.switch_timeout_ms);
      if (!reply.success) log.warn({ device: device.name }, 'the plug switched but could not store the state in its flash');
    } catch (error) {
      expectation.cancel(error as Error);
    }
    return expectation.confirmed;
  }
}

/** ws://<address>:<port><path>; the port is the device setting `ws_port`, else `udp.ws_port`. */
export function plugUrl(device: Device, address: string, config: Config['udp']): string {
  const setting = device.settings.ws_port;
  const port = typeof setting === 'number' && Number.isInteger(setting) && setting > 0 && setting < 65536 ? setting : config.ws_port;
  const host = address.includes(':') ? `[${address}]` : address;
  return `ws://${host}:${port}${config.ws_path}`;
}

interface SaveThingReply {
  success: boolean;
}

/** Sends one `save_thing` command and resolves with the plug's `response_save_thing`. */
export function saveThing(url: string, thing: Record<string, unknown>, timeoutMs: number): Promise<SaveThingReply> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
    let settled = false;
    const settle = (error: Error | undefined, reply?: SaveThingReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) ws.terminate();
      else ws.close();
      if (error) reject(error);
      else resolve(reply!);
    };
    const timer = setTimeout(() => settle(new CommandTimeoutError(`the plug at ${url} did not answer save_thing within ${timeoutMs} ms`)), timeoutMs);
    ws.on('open', () => ws.send(JSON.stringify({ command: 'save_thing', thing: JSON.stringify(thing) })));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let message: unknown;
      try {
        message = JSON.parse(data.toString());
      } catch {
        return; // the firmware also pushes other text; only the reply matters here
      }
      if (typeof message === 'object' && message !== null && (message as { command?: unknown }).command === 'response_save_thing') {
        settle(undefined, { success: (message as { success?: unknown }).success === true });
      }
    });
    ws.on('error', (error) => settle(new UnavailableError(`cannot reach the plug at ${url}: ${error.message}`)));
    ws.on('close', () => settle(new UnavailableError(`the plug at ${url} closed the WebSocket without answering`)));
  });
}
