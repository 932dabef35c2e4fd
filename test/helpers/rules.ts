/** A gateway with sim sockets and a fake Wi-Fi plug, and short-hands for the rules API and the event log. */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { startGateway, waitFor, type TestGateway, authHeaders } from './gateway.js';
import { FakeWifiPlug, freeUdpPort } from './wifi-plug.js';
import type { Gateway } from '../../src/daemon/gateway.js';

export type After = { after: (fn: () => Promise<unknown> | unknown) => void };

/** A gateway with sim sockets 1 and 2 and a fake Wi-Fi plug "Kitchen" (on, 118.5 W) that broadcasts every 300 ms. */
export async function gatewayWithPlug(t: After): Promise<{ tg: TestGateway; gateway: Gateway; plug: FakeWifiPlug }> {
  const port = await freeUdpPort();
  const plug = new FakeWifiPlug({ chipId: 1234567, name: 'Kitchen', gatewayPort: port, relay: true, loadWatts: 118.5 });
  await plug.start();
  t.after(() => plug.stop());
  const tg = await startGateway({ udp: { port, host: '127.0.0.1', ws_port: plug.wsPort, switch_timeout_ms: 2000, report_period_ms: 300 } });
  t.after(() => tg.stop());
  plug.startBroadcasting(300);
  const { gateway } = tg;
  await waitFor(
    () => gateway.parts.registry.find('Kitchen')?.available && gateway.parts.registry.find('socket-2')?.available,
    3000,
    'plug and sockets online',
  );
  return { tg, gateway, plug };
}

export async function addRule(gateway: Gateway, rule: object): Promise<{ id: number; fire_count: number }> {
  const res = await gateway.parts.api.inject({ headers: authHeaders(gateway), method: 'POST', url: '/api/rules', payload: rule });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

export async function getRule(
  gateway: Gateway,
  id: number,
): Promise<{ fire_count: number; last_fired: string | null; when: { device: string } }> {
  return (await gateway.parts.api.inject({ url: `/api/rules/${id}` })).json();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function events(tg: TestGateway, where: string): { type: string; cause: string; origin: string; detail: string | null }[] {
  const db = new Database(tg.config.database.path, { readonly: true });
  try {
    return db.prepare(`SELECT type, cause, origin, detail FROM events WHERE ${where} ORDER BY id`).all() as never;
  } finally {
    db.close();
  }
}
