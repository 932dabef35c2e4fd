/** A gateway and emulated Wi-Fi plugs (wifi-plug.ts) on loopback, for the switching and safety tests. */
import assert from 'node:assert/strict';
import type { Config } from '../../src/config/config.js';
import type { Logger } from '../../src/log.js';
import { startGateway, waitFor, type DeepPartial, type TestGateway } from './gateway.js';
import { FakeWifiPlug, freeUdpPort, type FakePlugOptions } from './wifi-plug.js';

type After = { after: (fn: () => Promise<unknown> | unknown) => void };

export interface WifiRig {
  tg: TestGateway;
  plugs: FakeWifiPlug[];
  put(name: string, on: boolean): Promise<{ statusCode: number; ms: number; body: { error?: string; state?: Record<string, unknown> } }>;
  /** Waits until the gateway has heard this plug's broadcast since `since` received datagrams. */
  known(plug: FakeWifiPlug, name: string): Promise<void>;
}

/**
 * Starts the plugs (chip ids 1234567, 1234568, ...; ON, a 1200 W load, named Plug0, Plug1...)
 * and a gateway whose udp.ws_port is the first plug's WebSocket port unless `config.udp.ws_port` says otherwise.
 */
export async function wifiRig(
  t: After,
  plugOptions: Partial<FakePlugOptions>[],
  config: DeepPartial<Config> = {},
  log?: Logger,
): Promise<WifiRig> {
  const port = await freeUdpPort();
  const plugs = plugOptions.map(
    (o, i) => new FakeWifiPlug({ chipId: 1234567 + i, name: `Plug${i}`, gatewayPort: port, loadWatts: 1200, relay: true, ...o }),
  );
  for (const plug of plugs) {
    await plug.start();
    t.after(() => plug.stop());
  }
  // The fakes broadcast when a test says so (every 200 ms at most), not every 5 s: their report period is short.
  const tg = await startGateway(
    { ...config, udp: { port, host: '127.0.0.1', ws_port: plugs[0]?.wsPort, report_period_ms: 100, ...config.udp } },
    undefined,
    log,
  );
  t.after(() => tg.stop());
  const { gateway } = tg;
  return {
    tg,
    plugs,
    async put(name, on) {
      const started = Date.now();
      const res = await gateway.parts.api.inject({
        headers: tg.auth,
        method: 'PUT',
        url: `/api/devices/${encodeURIComponent(name)}/relay`,
        payload: { on },
      });
      return { statusCode: res.statusCode, ms: Date.now() - started, body: res.json() };
    },
    async known(plug, name) {
      await plug.broadcast();
      await waitFor(() => gateway.parts.registry.find(name)?.available, 2000, `${name} heard`);
    },
  };
}

/**
 * What a gateway may do to the original firmware: nothing it leaves undefined, no datagram to its
 * UDP port (each one takes a slot of its 20-node table), and only the two commands canplug uses,
 * with thing 1 always.
 */
export function assertFaithfulUse(plugs: FakeWifiPlug[]): void {
  for (const plug of plugs) {
    assert.deepEqual(plug.undefinedBehaviour, [], 'nothing the firmware leaves undefined');
    assert.deepEqual(plug.heard, [], 'no datagram sent to the plug');
    for (const text of plug.commands) {
      const command = JSON.parse(text) as { command: string; thing?: string };
      if (command.command === 'request_things') assert.deepEqual(command, { command: 'request_things' });
      else {
        assert.equal(command.command, 'save_thing', text);
        const thing = JSON.parse(command.thing!);
        assert.deepEqual(Object.keys(thing), ['id', 'type', 'value', 'override'], text);
        assert.equal(thing.id, 1);
        assert.equal(thing.type, 1);
        assert.ok(thing.value === 0 || thing.value === 1, text);
        assert.equal(typeof thing.override, 'boolean');
      }
    }
  }
}
