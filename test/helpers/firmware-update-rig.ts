/**
 * A gateway and a socket whose firmware runs on the MicroPython VM, on one simulated bus, set up for
 * firmware updates: the gateway's signing key beside its database, the node holding its public half.
 */
import type { KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { SimTransport, VirtualBus } from '../../src/can/sim-transport.js';
import type { FirmwareStatus } from '../../src/contracts/firmware.js';
import { LIVE_PROTOCOL, type LiveMessage } from '../../src/contracts/live.js';
import { keyFiles, newKey } from './firmware-bundles.js';
import { startGateway, waitFor, type DeepPartial, type TestGateway } from './gateway.js';
import type { Config } from '../../src/config/config.js';
import { VmSocket } from './vm-socket.js';
import type { VmNodeOptions } from './vm-node.js';

export const NODE = 5;
/** The ISO-TP timeouts of both ends (N_Cr on the node, N_Bs on the gateway) in these tests: a loaded machine stalls the VM and the gateway for more than ISO's 1 s. */
export const GENEROUS_MS = 10_000;

export interface UpdateRig {
  tg: TestGateway;
  socket: VmSocket;
  bus: VirtualBus;
  /** The key the gateway signs with (and, unless told otherwise, the node trusts). */
  key: KeyObject;
  /** Every firmware status the gateway announced. */
  statuses: FirmwareStatus[];
  /** The device as the gateway sees it. */
  device(): { available: boolean; firmware?: string; relay?: boolean };
  /** Resolves with the update's last status once it is installed or failed. */
  outcome(timeoutMs?: number): Promise<FirmwareStatus>;
}

export interface RigOptions {
  /** The key the node holds; default: the gateway's. */
  nodeKey?: KeyObject;
  node?: Partial<VmNodeOptions>;
  gateway?: DeepPartial<Config>;
  /** The bus the gateway joins, given the node's (default: the same one); e.g. a relay that damages a frame. */
  gatewayBus?: (nodeBus: VirtualBus) => Promise<VirtualBus>;
}

export async function updateRig(t: TestContext, options: RigOptions = {}): Promise<UpdateRig> {
  const bus = new VirtualBus();
  const key = newKey();
  const nodeSide = new SimTransport(bus);
  await nodeSide.start();
  t.after(() => nodeSide.stop());
  const socket = await VmSocket.start(nodeSide, {
    config: { node_id: NODE, report_period_ms: 500, update_confirm_s: 60, update_frame_timeout_ms: GENEROUS_MS },
    plant: { humidity: 45, load_w: 100 },
    files: keyFiles(options.nodeKey ?? key),
    ...options.node,
  });
  t.after(() => socket.stop());
  // Fast tests: the bus at 1 Mbit/s and the whole of it for the transfer (the guest measures the real rates).
  const tg = await startGateway(
    {
      can: { bitrate: 1000000, command_timeout_ms: 3000, heartbeat_timeout_ms: 4000, sim: { nodes: [] } },
      safety: { gateway_rule: false },
      firmware: { bus_share: 1, confirm_timeout_s: 240, flow_timeout_ms: GENEROUS_MS },
      ...options.gateway,
    },
    options.gatewayBus ? await options.gatewayBus(bus) : bus,
  );
  t.after(() => tg.stop());
  writeFileSync(join(tg.dir, 'firmware-key.pem'), key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const statuses: FirmwareStatus[] = [];
  tg.gateway.parts.events.subscribe('test', { 'firmware.status': (s) => void statuses.push(s) });
  const device = () => {
    const d = tg.gateway.parts.registry.find(`socket-${NODE}`);
    return { available: d?.available ?? false, firmware: d?.info.firmware, relay: d?.state.relay };
  };
  await waitFor(() => device().available && device().firmware !== undefined, 60_000, 'the VM socket online');
  const outcome = (timeoutMs = 300_000) =>
    waitFor(
      () => {
        const last = statuses.at(-1);
        return last && (last.stage === 'installed' || last.stage === 'failed') ? last : undefined;
      },
      timeoutMs,
      'the update to end',
    );
  return { tg, socket, bus, key, statuses, device, outcome };
}

/** A client of /api/live that keeps the firmware messages it gets. */
export async function liveFirmware(t: TestContext, tg: TestGateway): Promise<FirmwareStatus[]> {
  const url = `${tg.gateway.httpUrl().replace(/^http/, 'ws')}/api/live`;
  const socket = new WebSocket(url, [LIVE_PROTOCOL, `bearer.${tg.token}`]);
  const seen: FirmwareStatus[] = [];
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as LiveMessage;
    if (message.type === 'firmware') seen.push(message.status);
  });
  await new Promise((resolve, reject) => {
    socket.once('message', resolve);
    socket.once('error', reject);
  });
  t.after(() => socket.close());
  return seen;
}
