// Firmware in the loop on vcan0 with the app on the MicroPython VM: the scenarios of
// test/firmware/vm-node-in-the-loop.test.ts, with the gateway on kernel SocketCAN and the VM node's CAN
// port bridged to its own raw socket on vcan0.
import { before, test } from 'node:test';
import { startGateway } from '../helpers/gateway.js';
import { firmwareInTheLoop } from '../helpers/vm-node-scenarios.js';
import { assertInGuest, openTransport, PATIENCE_MS, resetVcan, stopAll } from './vcan-helpers.js';

before(async () => {
  assertInGuest();
  await resetVcan();
});

test('MicroPython VM node on vcan0: MQTT switches its relay, malformed frames never reboot it, it trips on humidity by itself, and survives bus-off', {
  timeout: 600_000,
}, async (t) => {
  t.after(stopAll);
  const nodeSide = await openTransport();
  const injector = await openTransport();
  await firmwareInTheLoop(t, {
    startGateway: (can) => startGateway({ can: { ...can, transport: 'socketcan', interface: 'vcan0' }, safety: { gateway_rule: false } }),
    nodeTransport: nodeSide,
    injector,
    patienceMs: PATIENCE_MS,
  });
});
