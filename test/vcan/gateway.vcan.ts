// The whole gateway on kernel SocketCAN (vcan0) with can-utils as the independent peer:
// cansend frames are decoded and published; REST and MQTT commands appear in candump byte-exact.
import { afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { recordingClient, startGateway, waitFor, type TestGateway, authHeaders } from '../helpers/gateway.js';
import { assertInGuest, cansend, resetVcan, startCandump, PATIENCE_MS } from './vcan-helpers.js';

const running: TestGateway[] = [];
before(async () => {
  assertInGuest();
  await resetVcan();
});
afterEach(async () => {
  for (const g of running.splice(0)) await g.stop();
});

async function gatewayOnVcan(protocol: 'v1' | 'seed' = 'v1'): Promise<TestGateway> {
  const tg = await startGateway({ can: { transport: 'socketcan', interface: 'vcan0', protocol, command_timeout_ms: 3000 } });
  running.push(tg);
  await waitFor(() => tg.gateway.parts.can.up, PATIENCE_MS, 'vcan0 up');
  return tg;
}

/** "(1700000000.123456) vcan0 201#0101000000000000" -> "201#0101000000000000" */
const frameOf = (line: string) => line.split(' ')[2];

test('protocol v1 frames from cansend are decoded, published on MQTT and listed by REST', async (t) => {
  const { gateway } = await gatewayOnVcan();
  const mqtt = await recordingClient(gateway.mqttUrl(), ['canplug/#']);
  t.after(() => mqtt.client.endAsync());
  await cansend('707#01010201100E0000'); // heartbeat node 7, running, firmware 1.2
  await cansend('187#FD080802AC040107'); // 230.1 V, 0.52 A, 119.6 W, relay closed
  await cansend('287#C401D500500A01FF'); // 45.2 %RH, 21.3 degC
  const state = await waitFor(
    () => {
      const s = JSON.parse(mqtt.messages.get('canplug/socket-7') ?? '{}');
      return s.humidity === 45.2 && s.power === 119.6 ? s : undefined;
    },
    PATIENCE_MS,
    'socket-7 state on MQTT',
  );
  assert.deepEqual(
    { state: state.state, voltage: state.voltage, current: state.current, temperature: state.temperature, firmware: state.firmware },
    { state: 'ON', voltage: 230.1, current: 0.52, temperature: 21.3, firmware: '1.2' },
  );
  // availability is QoS 1 and state QoS 0: either may arrive first.
  await waitFor(() => mqtt.messages.get('canplug/socket-7/availability') === 'online', 2000, 'availability online');
  const rest = (await gateway.parts.api.inject({ url: '/api/devices/socket-7' })).json();
  assert.equal(rest.state.voltage, 230.1);

  await cansend('187#FD0808'); // wrong DLC
  await cansend('123#00'); // not a protocol id: the kernel filter keeps it out of the process
  await waitFor(() => gateway.parts.can.counters.malformed === 1, PATIENCE_MS, 'malformed frame counted');
  assert.equal(gateway.parts.can.counters.unknown, 0, 'filtered in the kernel, never seen');
});

test('relay commands from REST and MQTT appear in candump byte-exact and complete with the node reply', async (t) => {
  const { gateway } = await gatewayOnVcan();
  await cansend('707#0101020100000000');
  await waitFor(() => gateway.parts.registry.find('socket-7')?.available, PATIENCE_MS, 'socket-7 online');
  const dump = await startCandump('-L');
  t.after(() => dump.stop());

  const put = gateway.parts.api.inject({
    headers: authHeaders(gateway),
    method: 'PUT',
    url: '/api/devices/socket-7/relay',
    payload: { on: false },
  });
  const command = await waitFor(
    () =>
      dump
        .lines()
        .map(frameOf)
        .find((f) => f.startsWith('207#01')),
    PATIENCE_MS,
    'open command on the bus',
  );
  // opcode 01, token, action 00 (open), five zero bytes
  assert.match(command, /^207#01[0-9A-F]{2}000000000000$/);
  const token = command.slice(6, 8);
  await cansend(`587#01${token}${'00'}${'00'}${'00000000'}`); // reply: opcode 1, token, ok, status relay open, detail 0
  const res = await put;
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().state.state, 'OFF');

  const mqtt = await recordingClient(gateway.mqttUrl(), ['canplug/#']);
  t.after(() => mqtt.client.endAsync());
  // No node behind cansend sends heartbeats: announce it again so it is online for the close.
  await cansend('707#0101020100000000');
  await waitFor(() => gateway.parts.registry.find('socket-7')?.available, PATIENCE_MS, 'socket-7 online again');
  await mqtt.client.publishAsync('canplug/socket-7/set', '{"state":"ON"}');
  const close = await waitFor(
    () =>
      dump
        .lines()
        .map(frameOf)
        .find((f) => /^207#01[0-9A-F]{2}01/.test(f)),
    PATIENCE_MS,
    'close command',
  );
  assert.match(close, /^207#01[0-9A-F]{2}010000000000$/);
  assert.notEqual(close.slice(6, 8), token, 'each command has its own token');
});

test('legacy seed profile: readings decoded as the original app did, relay frames exactly as it sent them', async (t) => {
  const { gateway } = await gatewayOnVcan('seed');
  const mqtt = await recordingClient(gateway.mqttUrl(), ['canplug/#']);
  t.after(() => mqtt.client.endAsync());
  await cansend('001#000000000000E605'); // 230.5 V
  await cansend('002#0000000000000207'); // 2.7 A
  await cansend('003#0000000000007C05'); // 124.5 W
  await cansend('004#0000000000000041'); // 65 %RH
  const state = await waitFor(
    () => {
      const s = JSON.parse(mqtt.messages.get('canplug/seed-socket') ?? '{}');
      return s.humidity === 65 ? s : undefined;
    },
    PATIENCE_MS,
    'seed-socket state',
  );
  assert.deepEqual([state.voltage, state.current, state.power], [230.5, 2.7, 124.5]);

  const dump = await startCandump('-L');
  t.after(() => dump.stop());
  const off = await gateway.parts.api.inject({
    headers: authHeaders(gateway),
    method: 'PUT',
    url: '/api/devices/seed-socket/relay',
    payload: { on: false },
  });
  assert.equal(off.statusCode, 200);
  const on = await gateway.parts.api.inject({
    headers: authHeaders(gateway),
    method: 'PUT',
    url: '/api/devices/seed-socket/relay',
    payload: { on: true },
  });
  assert.equal(on.statusCode, 200);
  const frames = (await dump.stop()).map(frameOf);
  assert.deepEqual(frames, ['001#0000000000000000', '001#0100000000000000']);
});
