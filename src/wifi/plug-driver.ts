/**
 * Switching a Wi-Fi plug: `save_thing` for thing 1 ("Plug") over the WebSocket at the address its
 * broadcasts come from, after checking it is the plug meant (plug-socket.ts). The switch counts as
 * done when a broadcast shows the new state, whether or not the plug's answer arrives: the firmware
 * applies the value before it answers, and its answer only says whether it could store it in its
 * flash. See docs/wifi-plugs.md.
 */
import type { RelayActionName } from '../can/codec.js';
import type { Config } from '../config/config.js';
import type { RelayDriver } from '../gateway/control.js';
import { CommandTimeoutError, UnavailableError } from '../gateway/errors.js';
import type { Device } from '../gateway/device.js';
import type { Logger } from '../log.js';
import { PlugSwitch } from './plug-socket.js';
import type { WifiPlugs } from './wifi-plugs.js';

export interface PlugDriverDeps {
  plugs: WifiPlugs;
  config: Config['udp'];
  log: Logger;
}

export class WifiRelayDriver implements RelayDriver {
  constructor(private readonly deps: PlugDriverDeps) {}

  async setRelay(device: Device, action: RelayActionName, sent: () => void): Promise<boolean> {
    const { plugs, config, log } = this.deps;
    const seconds = config.offline_timeout_ms / 1000;
    if (!device.available) throw new UnavailableError(`${device.name} is offline (no broadcast for ${seconds} s)`);
    const address = plugs.address(device);
    if (!address) throw new UnavailableError(`${device.name} has not broadcast since the gateway started; its address is unknown`);
    const on = action === 'close' || (action === 'toggle' && device.state.relay !== true);
    const url = plugUrl(device, address, config);
    const timeoutMs = config.switch_timeout_ms;
    // Expect the confirming broadcast before sending: it may arrive before the plug's answer does.
    const expectation = plugs.expectRelay(device, on, timeoutMs);
    const exchange = new PlugSwitch(
      url,
      device.key.slice('wifi:'.length),
      on,
      {
        sent,
        failed: (error) => expectation.cancel(error),
        answered: (success) => {
          if (!success) log.warn({ device: device.name }, 'the plug switched but could not store the state in its flash');
        },
        lost: (reason) =>
          log.info({ device: device.name, reason }, 'no answer to save_thing; waiting for the broadcast that shows the switch'),
      },
      timeoutMs,
    );
    try {
      return await expectation.confirmed;
    } catch (error) {
      if (error instanceof CommandTimeoutError && !exchange.commandSent) {
        const what = exchange.stage === 'connecting' ? 'did not accept a WebSocket connection' : 'did not answer request_things';
        throw new CommandTimeoutError(`${device.name}: the plug at ${url} ${what} within ${timeoutMs} ms; nothing was sent`);
      }
      throw error;
    } finally {
      exchange.close();
    }
  }
}

/** ws://<address>:<port><path>; the port is the device setting `ws_port`, else `udp.ws_port`. */
export function plugUrl(device: Device, address: string, config: Config['udp']): string {
  const setting = device.settings.ws_port;
  const port = typeof setting === 'number' && Number.isInteger(setting) && setting > 0 && setting < 65536 ? setting : config.ws_port;
  const host = address.includes(':') ? `[${address}]` : address;
  return `ws://${host}:${port}${config.ws_path}`;
}
