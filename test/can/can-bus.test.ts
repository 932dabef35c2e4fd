import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CanBus } from '../../src/can/can-bus.js';
import { SimTransport, VirtualBus } from '../../src/can/sim-transport.js';
import { parseFrame } from '../../src/can/frame.js';
import { silentLogger } from '../../src/log.js';
import { startGateway, waitFor } from '../helpers/gateway.js';

test('malformed and unknown frames are counted, never crash, never reach the gateway', async () => {
  const bus = new VirtualBus();
  const can = new CanBus(new SimTransport(bus), 'v1', silentLogger);
  const messages: unknown[] = [];
  can.on('message', (m) => messages.push(m));
  await can.start();
  const peer = bus.attach(() => {});
  for (const f of ['181#FD0808', '701#', '123#00', '7C0#0101020100000000', '581#0105090000000000', '00000181#FD080802AC040107', '181#R']) {
    peer.send(parseFrame(f));
  }
  peer.send({ id: 0x181, data: Buffer.alloc(8), err: true });
  peer.send(parseFrame('181#FD080802AC040107'));
  await waitFor(() => can.counters.received === 9);
  assert.equal(can.counters.malformed, 5);
  assert.equal(can.counters.unknown, 3);
  assert.equal(messages.length, 1);
  await can.stop();
});

test('seed profile decodes the legacy frames and ignores v1 frames', async () => {
  const bus = new VirtualBus();
  const can = new CanBus(new SimTransport(bus), 'seed', silentLogger);
  const readings: unknown[] = [];
  can.on('seed', (r) => readings.push(r));
  await can.start();
  const peer = bus.attach(() => {});
  peer.send(parseFrame('001#000000000000E605'));
  peer.send(parseFrame('181#FD080802AC040107'));
  await waitFor(() => can.counters.received === 2);
  assert.deepEqual(readings, [{ type: 'seed', quantity: 'voltage', value: 230.5 }]);
  assert.equal(can.counters.unknown, 1);
  await can.stop();
});

test('the gateway survives a burst of junk frames and keeps bridging', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  const peer = gateway.parts.sim.bus!.attach(() => {});
  for (let i = 0; i < 5000; i++) {
    const dlc = i % 9;
    const data = Buffer.alloc(dlc);
    for (let j = 0; j < dlc; j++) data[j] = (i * 31 + j * 7) & 0xff;
    peer.send({ id: (i * 13) & 0x7ff, data });
  }
  await waitFor(() => gateway.parts.can.counters.received >= 5000, 5000, 'junk received');
  assert.ok(gateway.parts.can.counters.malformed + gateway.parts.can.counters.unknown > 1000);
  const res = await gateway.parts.api.inject({
    method: 'PUT',
    url: '/api/devices/socket-1/relay',
    headers: tg.auth,
    payload: { on: false },
  });
  assert.equal(res.statusCode, 200);
});

test('a frame from a node without a heartbeat yet asks that node to announce itself', async (t) => {
  const tg = await startGateway({ can: { sim: { nodes: [1] } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const seen: string[] = [];
  const peer = gateway.parts.sim.bus!.attach((f) => seen.push(`${f.id.toString(16)}#${f.data.toString('hex')}`));
  peer.send(parseFrame('189#FD080802AC040107'));
  await waitFor(() => seen.includes('0#0109'), 2000, 'discovery request for node 9');
});
