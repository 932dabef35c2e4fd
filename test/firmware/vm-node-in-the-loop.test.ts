// Firmware in the loop on the host: the socket's application on the real MicroPython VM, its CAN port
// bridged to the simulated bus the gateway runs on. The scenarios take any transport pair
// (test/helpers/vm-node-scenarios.ts), vcan0 included.
import { test } from 'node:test';
import { SimTransport, VirtualBus } from '../../src/can/sim-transport.js';
import { startGateway } from '../helpers/gateway.js';
import { firmwareInTheLoop } from '../helpers/vm-node-scenarios.js';

test('MicroPython VM node on the simulated bus: MQTT switches its relay, malformed frames never reboot it, it trips on humidity by itself, and survives bus-off', {
  timeout: 300_000,
}, async (t) => {
  const bus = new VirtualBus();
  const nodeSide = new SimTransport(bus);
  const injector = new SimTransport(bus);
  await nodeSide.start();
  await injector.start();
  t.after(() => nodeSide.stop());
  t.after(() => injector.stop());
  await firmwareInTheLoop(t, {
    startGateway: (can) => startGateway({ can, safety: { gateway_rule: false } }, bus),
    nodeTransport: nodeSide,
    injector,
    patienceMs: 15_000,
  });
});
