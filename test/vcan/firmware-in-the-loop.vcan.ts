// Firmware in the loop: the socket's MicroPython application running under CPython (firmware/host/run.py)
// with simulated sensors, its CAN seam on vcan0 through python-can, driven by the gateway end to end:
// MQTT set -> gateway -> vcan0 -> firmware -> relay pin -> power/status frames -> gateway -> MQTT state.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { recordingClient, startGateway, waitFor, type TestGateway, authHeaders } from '../helpers/gateway.js';
import { assertInGuest, resetVcan, PATIENCE_MS } from './vcan-helpers.js';

const RUNNER = new URL('../../firmware/host/run.py', import.meta.url).pathname;
let node: ChildProcess | undefined;
let tg: TestGateway | undefined;
const replies: Record<string, unknown>[] = [];

before(async () => {
  assertInGuest();
  await resetVcan();
});
after(async () => {
  await tg?.stop();
  if (node && node.exitCode === null) {
    node.kill('SIGTERM');
    await once(node, 'exit');
  }
});

/** Sends a control line to the firmware runner and returns its JSON answer. */
async function control(line: string): Promise<Record<string, unknown>> {
  const before = replies.length;
  node!.stdin!.write(`${line}\n`);
  return waitFor(() => replies[before], PATIENCE_MS, `answer to "${line}"`);
}

test('MQTT switches the firmware relay over vcan0, and the node opens itself when humidity rises', async (t) => {
  node = spawn(
    '/usr/bin/python3',
    [RUNNER, '--node', '5', '--channel', 'vcan0', '--humidity', '45', '--load-w', '460', '--set', 'report_period_ms=250'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: node.stdout! });
  let ready = false;
  lines.on('line', (line) => {
    const message = JSON.parse(line) as Record<string, unknown>;
    if (message.event === 'ready') ready = true;
    else replies.push(message);
  });
  await waitFor(() => ready, 3 * PATIENCE_MS, 'firmware runner ready');

  // The gateway rule is off: whatever opens the relay on humidity here is the firmware itself.
  tg = await startGateway({
    can: { transport: 'socketcan', interface: 'vcan0', command_timeout_ms: 3000, heartbeat_timeout_ms: 5000 },
    safety: { gateway_rule: false },
  });
  const { gateway } = tg;
  const mqtt = await recordingClient(gateway.mqttUrl(), ['canplug/#']);
  t.after(() => mqtt.client.endAsync());
  const state = () => JSON.parse(mqtt.messages.get('canplug/socket-5') ?? '{}') as Record<string, unknown>;

  // The firmware's default power-on state is off.
  await waitFor(() => state().state === 'OFF' && state().humidity !== undefined, 3 * PATIENCE_MS, 'socket-5 online, relay off');
  // availability is QoS 1 and state QoS 0: either may arrive first.
  await waitFor(() => mqtt.messages.get('canplug/socket-5/availability') === 'online', 2000, 'availability online');
  assert.ok(Math.abs((state().humidity as number) - 45) < 2, `humidity ${state().humidity}`);

  await mqtt.client.publishAsync('canplug/socket-5/set', 'ON');
  await waitFor(async () => (await control('status')).relay === true, PATIENCE_MS, 'relay pin high');
  await waitFor(() => state().state === 'ON' && (state().power as number) > 400, PATIENCE_MS, 'MQTT state ON, about 460 W');
  assert.ok(Math.abs((state().voltage as number) - 230) < 10, `voltage ${state().voltage}`);

  await mqtt.client.publishAsync('canplug/socket-5/set', '{"state":"OFF"}');
  await waitFor(async () => (await control('status')).relay === false, PATIENCE_MS, 'relay pin low');
  await waitFor(() => state().state === 'OFF' && state().power === 0, PATIENCE_MS, 'MQTT state OFF at 0 W');

  await mqtt.client.publishAsync('canplug/socket-5/set', 'ON');
  await waitFor(() => state().state === 'ON', PATIENCE_MS, 'MQTT state ON again');

  await control('humidity 88');
  await waitFor(() => state().state === 'OFF' && state().interlock === true, PATIENCE_MS, 'the node opened and latched by itself');
  const pin = await control('status');
  assert.equal(pin.relay, false);
  assert.equal(pin.humidity_latched, true);
  const events = (await gateway.parts.api.inject({ url: '/api/events?device=socket-5&type=trip' })).json().events as {
    origin: string;
    cause: string;
  }[];
  assert.ok(
    events.some((e) => e.origin === 'node' && e.cause === 'humidity'),
    JSON.stringify(events),
  );

  // A close while still humid is refused by the node: REST 409 with the node's reason.
  const refused = await gateway.parts.api.inject({
    headers: authHeaders(gateway),
    method: 'PUT',
    url: '/api/devices/socket-5/relay',
    payload: { on: true },
  });
  assert.equal(refused.statusCode, 409, refused.body);
  assert.equal((await control('status')).relay, false);
});
