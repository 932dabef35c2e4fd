// Connections are bounded: HTTP connections at once (idle ones hold memory and a descriptor) and
// live-stream clients (each costs a snapshot and a copy of every update). Past a bound the newcomer
// is refused and counted; the ones inside carry on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { MAX_HTTP_CONNECTIONS } from '../../src/api/server.js';
import { startGateway, waitFor } from '../helpers/gateway.js';

test('past 50 live-stream clients a newcomer is closed with 1013 "try again later"; the others keep their updates', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const url = `${tg.gateway.httpUrl().replace(/^http/, 'ws')}/api/live`;
  const open = async () => {
    const ws = new WebSocket(url, ['canplug.v1', `bearer.${tg.token}`]);
    t.after(() => ws.terminate());
    const first = new Promise<string>((resolve) => {
      ws.once('message', (data) => resolve(JSON.parse(data.toString()).type));
      ws.once('close', (code, reason) => resolve(`closed ${code} ${reason.toString()}`));
    });
    return { ws, first: await first };
  };
  const clients = [];
  for (let i = 0; i < 50; i++) clients.push(await open());
  assert.ok(clients.every((c) => c.first === 'snapshot'));
  const refused = await open();
  assert.equal(refused.first, 'closed 1013 at most 50 live stream clients at once; try again later');
  const health = (await tg.gateway.parts.api.inject({ url: '/api/health' })).json();
  assert.equal(health.http.live_clients, 50);
  assert.equal(health.http.live_refused, 1);
  clients.pop()!.ws.close();
  await waitFor(() => tg.gateway.parts.http.live.size === 49, 2000, 'a slot free');
  assert.equal((await open()).first, 'snapshot');
});

test(`past ${MAX_HTTP_CONNECTIONS} open HTTP connections a newcomer is closed at once; requests work again once they go`, async (t) => {
  const idle: Socket[] = [];
  t.after(() => {
    for (const s of idle) s.destroy();
  });
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { port } = new URL(tg.gateway.httpUrl());
  for (let i = 0; i < MAX_HTTP_CONNECTIONS; i++) {
    const socket = connect(Number(port), '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    idle.push(socket);
  }
  const extra = connect(Number(port), '127.0.0.1');
  extra.on('error', () => {});
  await once(extra, 'close');
  await waitFor(() => tg.gateway.parts.http.connectionsDropped === 1, 2000, 'the drop counted');
  for (const socket of idle.splice(0, 10)) socket.destroy();
  const open = () => new Promise<number>((resolve) => tg.gateway.parts.api.server.getConnections((_error, n) => resolve(n)));
  await waitFor(async () => (await open()) < MAX_HTTP_CONNECTIONS, 2000, 'the server saw them go');
  const health = await fetch(`${tg.gateway.httpUrl()}/api/health`, { signal: AbortSignal.timeout(3000) });
  assert.equal(health.status, 200);
  assert.match(await tg.gateway.parts.metrics.text(), /canplug_http_connections_dropped_total 1/);
});
