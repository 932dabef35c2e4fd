// A node simulator process (`canplug sim`) and the gateway on the same vcan0, the diagnosis commands
// (`sniff`, `send`) against it, and the two safety layers proving themselves through the kernel.
import { afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { startGateway, waitFor, type TestGateway, authHeaders } from '../helpers/gateway.js';
import { SimSocket } from '../../src/can/sim-socket.js';
import type { Command } from '../../src/can/codec.js';
import { assertInGuest, openTransport, resetVcan, stopAll, PATIENCE_MS } from './vcan-helpers.js';

const CLI = new URL('../../bin/canplug.js', import.meta.url).pathname;
const children: ChildProcess[] = [];
const gateways: TestGateway[] = [];
const sockets: SimSocket[] = [];

before(async () => {
  assertInGuest();
  await resetVcan();
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.stop();
  for (const g of gateways.splice(0)) await g.stop();
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      await once(c, 'exit');
    }
  }
  await stopAll();
});

function cli(...args: string[]): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

async function cliResult(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = cli(...args);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  child.stderr!.on('data', (c: Buffer) => (err += c));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out, err };
}

async function gatewayOnVcan(overrides: Parameters<typeof startGateway>[0] = {}): Promise<TestGateway> {
  const tg = await startGateway({ can: { transport: 'socketcan', interface: 'vcan0', command_timeout_ms: 3000 }, ...overrides });
  gateways.push(tg);
  await waitFor(() => tg.gateway.parts.can.up, PATIENCE_MS, 'vcan0 up');
  return tg;
}

test('a node simulator process (canplug sim) answers the gateway; sniff and send speak protocol terms', async () => {
  cli('sim', '--interface', 'vcan0', '--nodes', '1-3', '--report-period', '200');
  const { gateway } = await gatewayOnVcan();
  await waitFor(
    () => ['socket-1', 'socket-2', 'socket-3'].every((n) => gateway.parts.registry.find(n)?.available),
    3 * PATIENCE_MS,
    'three simulated nodes online',
  );

  const off = await gateway.parts.api.inject({
    headers: authHeaders(gateway),
    method: 'PUT',
    url: '/api/devices/socket-2/relay',
    payload: { on: false },
  });
  assert.equal(off.statusCode, 200, off.body);
  assert.equal(off.json().state.state, 'OFF');
  await waitFor(() => gateway.parts.registry.find('socket-2')?.state.power === 0, PATIENCE_MS, 'socket-2 reports 0 W');

  const sniff = await cliResult('sniff', '--interface', 'vcan0', '--count', '20', '--json');
  assert.equal(sniff.code, 0, sniff.err);
  const frames = sniff.out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.equal(frames.length, 20);
  assert.ok(
    frames.some((f) => JSON.stringify(f).includes('power')),
    sniff.out.slice(0, 500),
  );

  const send = await cliResult('send', '--interface', 'vcan0', '3', 'relay', 'off');
  assert.equal(send.code, 0, send.err);
  assert.match(send.out, /node 3: setRelay .*-> ok/);
  const silent = await cliResult('send', '--interface', 'vcan0', '9', 'report', '--timeout', '500');
  assert.equal(silent.code, 4, 'no node 9: exit 4');
});

async function simNodeOnVcan(options: ConstructorParameters<typeof SimSocket>[0]): Promise<SimSocket> {
  const transport = await openTransport(); // a second kernel socket on vcan0: frames really cross the stack
  const socket = new SimSocket({ reportPeriodMs: 200, ...options });
  transport.on('frame', (frame) => socket.receive(frame));
  socket.start((frame) => transport.send(frame));
  sockets.push(socket);
  return socket;
}

test('safety on vcan: a node with its interlock disabled is kept off by the gateway', async () => {
  const node = await simNodeOnVcan({ node: 11 });
  node.interlockEnabled = false;
  const { gateway } = await gatewayOnVcan();
  await waitFor(() => gateway.parts.registry.find('socket-11')?.state.humidity !== undefined, PATIENCE_MS, 'socket-11 reporting');
  let opened = 0;
  node.onCommand = (command: Command) => {
    if (command.op === 'setRelay' && command.action === 'open') opened++;
  };
  node.setHumidity(86);
  node.reportNow();
  await waitFor(() => !node.relay, PATIENCE_MS, 'the gateway opened the relay');
  assert.ok(opened >= 1);
  const res = await gateway.parts.api.inject({
    headers: authHeaders(gateway),
    method: 'PUT',
    url: '/api/devices/socket-11/relay',
    payload: { on: true },
  });
  assert.equal(res.statusCode, 409);
  assert.match(res.json().error, /interlocked by the gateway/);
  assert.equal(node.relay, false);
});

test('safety on vcan: with the gateway rule off the node keeps itself off', async () => {
  const node = await simNodeOnVcan({ node: 12 });
  const { gateway } = await gatewayOnVcan({ safety: { gateway_rule: false } });
  await waitFor(() => gateway.parts.registry.find('socket-12')?.state.humidity !== undefined, PATIENCE_MS, 'socket-12 reporting');
  node.setHumidity(86);
  assert.equal(node.relay, false);
  await waitFor(() => gateway.parts.registry.find('socket-12')?.state.nodeHumidityLatched, PATIENCE_MS, 'node latch seen');
  const res = await gateway.parts.api.inject({
    headers: authHeaders(gateway),
    method: 'PUT',
    url: '/api/devices/socket-12/relay',
    payload: { on: true },
  });
  assert.equal(res.statusCode, 409);
  assert.match(res.json().error, /humidity interlock latched on the node/);
  assert.equal(node.relay, false);
});
