/**
 * Firmware in the loop with the app on the MicroPython VM: the scenarios of
 * test/vcan/firmware-in-the-loop.vcan.ts, run on whatever bus the caller sets up (the simulated bus on
 * the host, vcan0 in the guest). The node is socket-5; the gateway's own humidity rule is off, so
 * whatever opens the relay on humidity is the firmware.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { decode } from '../../src/can/codec.js';
import type { CanFrame } from '../../src/can/frame.js';
import type { Transport } from '../../src/can/transport.js';
import { authHeaders, recordingClient, waitFor, type TestGateway } from './gateway.js';
import { bridgeToTransport, VmNode } from './vm-node.js';

export interface LoopSetup {
  /** Starts the gateway on the bus, with these `can` settings merged into its config. */
  startGateway(can: Record<string, unknown>): Promise<TestGateway>;
  /** The node's side of the bus (started; receives every frame but its own). */
  nodeTransport: Transport;
  /** One more station for raw frames (started). */
  injector: Transport;
  patienceMs: number;
}

const NODE = 5;
const COMMAND_ID = 0x200 + NODE;

/** Frames on the node's own ids that no gateway would send: every DLC, unknown opcodes, bad arguments. */
function malformedFrames(): CanFrame[] {
  const frames: CanFrame[] = [];
  let token = 0;
  const next = () => (token = (token + 1) & 0xff);
  for (let opcode = 0; opcode < 256; opcode++)
    frames.push({ id: COMMAND_ID, data: Buffer.from([opcode, next(), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) });
  for (let dlc = 0; dlc < 8; dlc++) {
    for (let opcode = 0; opcode < 10; opcode++)
      frames.push({ id: COMMAND_ID, data: Buffer.from([opcode, next(), 1, 0, 0, 0, 0].slice(0, dlc)) });
    frames.push({ id: 0x000, data: Buffer.from([2, NODE, 0, 0, 0, 0, 0, 0].slice(0, dlc)) }); // discovery, malformed
  }
  frames.push({ id: COMMAND_ID, data: Buffer.from([1, 0x77, 1, 0, 0, 0, 0, 0]), rtr: true });
  frames.push({ id: 0x1000_0000 | COMMAND_ID, data: Buffer.from([1, 0x78, 1, 0, 0, 0, 0, 0]), ext: true });
  return frames;
}

export async function firmwareInTheLoop(t: TestContext, setup: LoopSetup): Promise<void> {
  const { patienceMs: patience, injector } = setup;
  const node = await VmNode.boot({ config: { node_id: NODE, report_period_ms: 250 }, plant: { humidity: 45, load_w: 460 } });
  t.after(() => node.kill());
  t.after(bridgeToTransport(node.vm, setup.nodeTransport));
  const noReboot = () => assert.deepEqual(node.reboots, [], `the firmware's last resort ran:\n${node.vm.lines.slice(-20).join('\n')}`);

  const tg = await setup.startGateway({ command_timeout_ms: 3000, heartbeat_timeout_ms: 3000, sim: { nodes: [] } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const mqtt = await recordingClient(gateway.mqttUrl(), ['canplug/#']);
  t.after(() => mqtt.client.endAsync());
  const state = () => JSON.parse(mqtt.messages.get('canplug/socket-5') ?? '{}') as Record<string, unknown>;
  const relay = async () => (await node.control('status')).relay;
  const restRelay = (on: boolean) =>
    gateway.parts.api.inject({ headers: authHeaders(gateway), method: 'PUT', url: '/api/devices/socket-5/relay', payload: { on } });

  // The firmware's default power-on state is off.
  await waitFor(() => state().state === 'OFF' && state().humidity !== undefined, 3 * patience, 'socket-5 online, relay off');
  await waitFor(() => mqtt.messages.get('canplug/socket-5/availability') === 'online', patience, 'socket-5 availability online');

  // MQTT set -> relay pin -> power reports -> MQTT state.
  await mqtt.client.publishAsync('canplug/socket-5/set', 'ON');
  await waitFor(async () => (await relay()) === true, patience, 'relay pin high');
  // The simulated board reads the plant to a few tenths of a percent (test/firmware/vm-node-measures.test.ts).
  await waitFor(
    () => state().state === 'ON' && Math.abs((state().power as number) - 460) < 460 * 0.03,
    patience,
    'MQTT state ON at 460 W (3 %)',
  );
  assert.ok(Math.abs((state().voltage as number) - 230) < 230 * 0.02, `voltage ${state().voltage}`);
  await mqtt.client.publishAsync('canplug/socket-5/set', '{"state":"OFF"}');
  await waitFor(() => state().state === 'OFF' && state().power === 0, patience, 'MQTT state OFF at 0 W');

  // Malformed frames on the node's ids, paced so that the node's 32-frame outbox never overflows.
  const replies: number[] = [];
  const onFrame = (frame: CanFrame) => {
    const r = decode(frame);
    if (r.ok && r.message.type === 'reply' && r.message.node === NODE) replies.push(r.message.token);
  };
  injector.on('frame', onFrame);
  const frames = malformedFrames();
  for (let i = 0; i < frames.length; i += 8) {
    const batch = frames.slice(i, i + 8);
    const tokens = batch.filter((f) => f.id === COMMAND_ID && !f.rtr && !f.ext && f.data.length >= 2).map((f) => f.data[1]);
    replies.length = 0;
    for (const f of batch) assert.ok(injector.send(f), 'the injector sent');
    await waitFor(() => tokens.every((tok) => replies.includes(tok)), patience, `replies to ${tokens.join(',')}`);
  }
  injector.off('frame', onFrame);
  noReboot();
  t.diagnostic(`VM node: ${frames.length} malformed frames on its ids, each answered (DLC >= 2) or ignored, no reboot`);
  assert.equal(await relay(), false, 'the malformed frames switched nothing');

  // Humidity rises: the node opens and latches by itself; a close is refused by the node.
  assert.equal((await restRelay(true)).statusCode, 200);
  await waitFor(() => state().state === 'ON', patience, 'MQTT state ON again');
  await node.control('humidity 88');
  await waitFor(() => state().state === 'OFF' && state().interlock === true, patience, 'the node opened and latched by itself');
  assert.equal((await node.control('status')).humidity_latched, true);
  const events = (await gateway.parts.api.inject({ url: '/api/events?device=socket-5&type=trip' })).json().events as {
    origin: string;
    cause: string;
  }[];
  assert.ok(
    events.some((e) => e.origin === 'node' && e.cause === 'humidity'),
    JSON.stringify(events),
  );
  const refused = await restRelay(true);
  assert.equal(refused.statusCode, 409, refused.body);
  assert.equal(await relay(), false);
  // Below the re-arm level an explicit close clears the latch and closes.
  await node.control('humidity 60');
  await waitFor(async () => (await restRelay(true)).statusCode === 200, patience, 'a close accepted below the re-arm level');
  await waitFor(() => state().state === 'ON' && state().interlock === false, patience, 'MQTT state ON, no interlock');

  // Bus-off: the gateway loses the node, the node goes on protecting, and both recover.
  await node.control('bus-off on');
  await waitFor(() => mqtt.messages.get('canplug/socket-5/availability') === 'offline', 3 * patience, 'socket-5 offline');
  await node.control('humidity 90');
  await waitFor(async () => (await relay()) === false, patience, 'the node opened the relay while off the bus');
  await node.control('bus-off off');
  await waitFor(() => mqtt.messages.get('canplug/socket-5/availability') === 'online', 3 * patience, 'socket-5 online again');
  await waitFor(() => state().state === 'OFF' && state().interlock === true, patience, 'the trip seen after recovery');
  noReboot();
}
