import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { LiveStream } from '../../src/api/live.js';
import type { LiveMessage } from '../../src/contracts/live.js';
import { EventBus } from '../../src/gateway/events.js';
import { silentLogger } from '../../src/log.js';
import { Registry } from '../../src/gateway/registry.js';
import { openDatabase } from '../../src/db/database.js';
import { SqliteDeviceStore } from '../../src/db/devices.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';

interface Connection {
  ws: WebSocket;
  messages: LiveMessage[];
  closed: Promise<{ code: number; reason: string }>;
}

async function connect(
  tg: TestGateway,
  how: { protocols?: string[]; query?: string; headers?: Record<string, string> },
): Promise<Connection> {
  const url = `${tg.gateway.httpUrl().replace(/^http/, 'ws')}/api/live${how.query ?? ''}`;
  const ws = new WebSocket(url, how.protocols ?? [], { headers: how.headers });
  const messages: LiveMessage[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as LiveMessage));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await once(ws, 'open');
  return { ws, messages, closed };
}

const deviceUpdates = (c: Connection, name: string) => c.messages.filter((m) => m.type === 'device' && m.device.name === name);

test('the live stream sends a snapshot, then device changes and event-log entries', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  await waitFor(() => tg.gateway.parts.registry.find('socket-2')?.available, 3000, 'sockets online');
  const c = await connect(tg, { protocols: ['canplug.v1', `bearer.${tg.token}`] });
  t.after(() => c.ws.close());
  assert.equal(c.ws.protocol, 'canplug.v1', 'the server picks the stream protocol and never echoes the token');

  await waitFor(() => c.messages.length > 0, 2000, 'snapshot');
  const snapshot = c.messages[0];
  assert.equal(snapshot.type, 'snapshot');
  assert.deepEqual(snapshot.type === 'snapshot' && snapshot.devices.map((d) => d.name).sort(), ['socket-1', 'socket-2']);

  const res = await tg.gateway.parts.api.inject({
    method: 'PUT',
    url: '/api/devices/socket-1/relay',
    headers: tg.auth,
    payload: { on: false },
  });
  assert.equal(res.statusCode, 200);
  await waitFor(
    () => deviceUpdates(c, 'socket-1').some((m) => m.type === 'device' && m.device.state.state === 'OFF'),
    2000,
    'OFF on the stream',
  );
  const event = await waitFor(() => c.messages.find((m) => m.type === 'event' && m.event.type === 'relay'), 2000, 'relay event');
  assert.equal(event.type === 'event' && event.event.origin, 'rest');
  assert.equal(event.type === 'event' && event.event.device, 'socket-1');
  assert.equal(event.type === 'event' && event.event.cause, 'off');
});

test('without a token the live stream is read-only; a wrong token is refused with close code 4401 and the reason; ?token= works', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const none = await connect(tg, { protocols: ['canplug.v1'] });
  t.after(() => none.ws.close());
  const readOnly = await waitFor(() => none.messages.find((m) => m.type === 'snapshot'), 2000, 'snapshot without a token');
  assert.equal(readOnly.type === 'snapshot' && readOnly.access, 'read', 'no token: the snapshot says read-only');

  const wrong = await connect(tg, { protocols: ['canplug.v1', 'bearer.0123456789abcdef0123'] });
  const closed = await wrong.closed;
  assert.equal(closed.code, 4401);
  assert.equal(wrong.messages[0]?.type, 'error');
  assert.match(wrong.messages[0]?.type === 'error' ? wrong.messages[0].error : '', /the API token is wrong/);
  assert.ok(!wrong.messages.some((m) => m.type === 'snapshot'), 'no data for a wrong token');

  const query = await connect(tg, { query: `?token=${encodeURIComponent(tg.token)}` });
  t.after(() => query.ws.close());
  const withToken = await waitFor(() => query.messages.find((m) => m.type === 'snapshot'), 2000, 'snapshot with ?token=');
  assert.equal(withToken.type === 'snapshot' && withToken.access, 'write');
  const header = await connect(tg, { headers: { authorization: `Bearer ${tg.token}` } });
  t.after(() => header.ws.close());
  await waitFor(
    () => header.messages.some((m) => m.type === 'snapshot' && m.access === 'write'),
    2000,
    'snapshot with the Authorization header',
  );

  const plain = await tg.gateway.parts.api.inject({ url: '/api/live' });
  assert.equal(plain.statusCode, 426);
  assert.match(plain.json().error, /this is a WebSocket/);
});

test('with read protection the live stream refuses a missing token; with auth off every client may write', async (t) => {
  const tg = await startGateway({ http: { read_protection: true } });
  t.after(() => tg.stop());
  const none = await connect(tg, { protocols: ['canplug.v1'] });
  assert.equal((await none.closed).code, 4401);
  assert.match(none.messages[0]?.type === 'error' ? none.messages[0].error : '', /needs the API token/);
  assert.ok(!none.messages.some((m) => m.type === 'snapshot'), 'no data before the token');

  const open = await startGateway({ http: { auth: false } });
  t.after(() => open.stop());
  const c = await connect(open, { protocols: ['canplug.v1'] });
  t.after(() => c.ws.close());
  await waitFor(() => c.messages.some((m) => m.type === 'snapshot' && m.access === 'write'), 2000, 'write access with auth off');
});

test('a flood of changes reaches a client as at most about 5 updates a second per device, ending with the latest state', async (t) => {
  const tg = await startGateway({ can: { sim: { report_period_ms: 60_000 } } });
  t.after(() => tg.stop());
  const device = await waitFor(() => tg.gateway.parts.registry.find('socket-1'), 3000, 'socket-1');
  const c = await connect(tg, { protocols: ['canplug.v1', `bearer.${tg.token}`] });
  t.after(() => c.ws.close());
  await waitFor(() => c.messages.length > 0, 2000, 'snapshot');
  const before = deviceUpdates(c, 'socket-1').length;

  const started = Date.now();
  for (let i = 0; i < 2000; i++) {
    tg.gateway.parts.registry.update(device, { state: { voltage: 200 + i / 100 } });
    if (i % 200 === 0) await new Promise((r) => setTimeout(r, 50)); // spread over ~0.5 s
  }
  await new Promise((r) => setTimeout(r, 400));
  const elapsedS = (Date.now() - started) / 1000;
  const updates = deviceUpdates(c, 'socket-1').slice(before);
  assert.ok(updates.length >= 2, `some updates arrived (${updates.length})`);
  assert.ok(updates.length <= Math.ceil(elapsedS * 5) + 2, `${updates.length} updates in ${elapsedS.toFixed(2)} s`);
  const last = updates.at(-1)!;
  assert.equal(last.type === 'device' && last.device.state.voltage, 200 + 1999 / 100, 'the last update carries the latest state');
});

test('a client that stops reading is disconnected instead of buffering without bound', async (t) => {
  const events = new EventBus(silentLogger);
  const server = createServer();
  const wss = new WebSocketServer({ server });
  const db = openDatabase(':memory:');
  const registry = new Registry({ events, store: new SqliteDeviceStore(db), log: silentLogger, heartbeatTimeoutMs: 1000 });
  const live = new LiveStream({ events, registry, log: silentLogger, maxBufferedBytes: 256 * 1024 });
  live.start();
  wss.on('connection', (socket) => live.add(socket, 'write'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    live.stop();
    wss.close();
    server.close();
    db.close();
  });
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await once(client, 'message'); // the snapshot
  t.after(() => client.terminate());
  // The client's process stops reading from its socket.
  (client as unknown as { _socket: { pause(): void } })._socket.pause();
  assert.equal(live.size, 1);
  const detail = { blob: 'x'.repeat(16 * 1024) };
  for (let i = 0; i < 2000 && live.size > 0; i++) {
    events.emit('log', { ts: Date.now(), type: 'rule', detail });
    if (i % 20 === 0) await new Promise((r) => setImmediate(r));
  }
  await waitFor(() => live.size === 0, 5000, 'slow client dropped');
});
