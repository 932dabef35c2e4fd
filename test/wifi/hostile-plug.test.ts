// Whatever answers at a plug's address is on the LAN: its WebSocket messages are bounded, and what
// it says about itself reaches an answer only clipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import { MAX_PLUG_MESSAGE_BYTES } from '../../src/wifi/plug-socket.js';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { freeUdpPort, sendDatagram } from '../helpers/wifi-plug.js';

async function hostilePlug(t: { after: (fn: () => unknown) => void }, answer: (send: (text: string) => void) => void): Promise<number> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  server.on('connection', (client) => client.on('message', () => answer((text) => client.send(text))));
  return (server.address() as { port: number }).port;
}

test('a "plug" answering with a message over 64 KiB is cut off, and what it calls itself is clipped', async (t) => {
  const udp = await freeUdpPort();
  let answer = (send: (text: string) => void) =>
    send(JSON.stringify({ command: 'response_things', nodeId: 1234567, things: [], pad: 'x'.repeat(MAX_PLUG_MESSAGE_BYTES) }));
  const wsPort = await hostilePlug(t, (send) => answer(send));
  const tg = await startGateway({ udp: { port: udp, host: '127.0.0.1', ws_port: wsPort, switch_timeout_ms: 2000 } });
  t.after(() => tg.stop());
  await sendDatagram(udp, '1234567:Kitchen&1:1&2:5');
  await waitFor(() => tg.gateway.parts.registry.find('Kitchen')?.available, 2000, 'Kitchen heard');
  const put = () =>
    tg.gateway.parts.api.inject({ method: 'PUT', url: '/api/devices/Kitchen/relay', headers: tg.auth, payload: { on: false } });

  const big = await put();
  assert.equal(big.statusCode, 409, big.body);
  assert.match(big.json().error, /closed the WebSocket before answering request_things; nothing was sent/);

  answer = (send) =>
    send(JSON.stringify({ command: 'response_things', nodeId: '999\n', nodeName: `${'n'.repeat(5000)}\u0007`, things: [] }));
  const other = await put();
  assert.equal(other.statusCode, 409, other.body);
  const error = other.json().error as string;
  assert.match(error, /^the plug at ws:\/\/127\.0\.0\.1:\d+\/ws is chip 999\? \("n{40}\.\.\."\), not chip 1234567; nothing was sent/);
  assert.ok(error.length < 400);
});
