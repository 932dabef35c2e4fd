// Random MQTT payloads on every topic the gateway subscribes to (read from its connection, not a hand
// list): binary, text, JSON of every shape, deeply nested JSON, huge payloads, plausible requests with
// wild values. The gateway never crashes, answers the bridge API every time, stays healthy, and a
// latched socket never closes whatever arrives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { MAX_PAYLOAD_BYTES } from '../../src/mqtt/connection.js';
import { MAX_PACKET_BYTES } from '../../src/mqtt/embedded-broker.js';
import { recordingClient, startGateway, waitFor } from '../helpers/gateway.js';
import { recordFigure } from '../helpers/figures.js';

const segment = fc.stringMatching(/^[A-Za-z0-9 _.-]{1,12}$/);

/** Concrete topics for a filter: `+` is a device, `bridge` or anything; `#` a known request or anything. */
function topicFor(filter: string, names: () => string[]): fc.Arbitrary<string> {
  const parts = filter.split('/').map((part) => {
    if (part === '+') return fc.oneof(fc.constantFrom(...names(), 'bridge', 'socket-1', 'socket-2'), segment);
    if (part === '#') {
      return fc.oneof(
        fc.constantFrom('health_check', 'device/rename', 'device/remove', 'device/limits', 'device/reset', 'device/report'),
        fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
      );
    }
    return fc.constant(part);
  });
  return fc.tuple(...parts).map((p) => p.join('/'));
}

const KEYS = [
  'state',
  'id',
  'from',
  'to',
  'force',
  'transaction',
  'humidity_limit',
  'humidity_hysteresis',
  'power_limit_w',
  'current_limit_a',
  'auto_rearm',
  'device',
  '__proto__',
  'constructor',
];

const payload: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s)) },
  { weight: 3, arbitrary: fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)) },
  // Plausible requests: the right keys with values of any JSON type.
  {
    weight: 6,
    arbitrary: fc
      .dictionary(fc.constantFrom(...KEYS), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 })
      .map((o) => Buffer.from(JSON.stringify(o))),
  },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        'ON',
        'OFF',
        'TOGGLE',
        'on',
        ' off ',
        'Toggle',
        '{"state":"ON"}',
        '{"state":"off"}',
        '{"state":1}',
        '',
        'null',
        '[]',
        '{}',
        'online',
        'offline',
      )
      .map((s) => Buffer.from(s)),
  },
  // Deeply nested: arrays and objects thousands of levels deep, under the size limit.
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 30_000 }).map((n) => Buffer.from(`${'['.repeat(n)}${']'.repeat(n)}`)) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 5_000 }).map((n) => Buffer.from(`${'{"id":'.repeat(n)}"socket-1"${'}'.repeat(n)}`)) },
  // Over the 64 KiB a handler accepts, and over the embedded broker's packet limit.
  { weight: 1, arbitrary: fc.constantFrom(64 * 1024 + 1, 200_000, 300_000, 2_000_000).map((n) => Buffer.alloc(n, 0x7b)) },
);

test('random payloads on every subscribed topic: no crash, bridge requests always answered, health ok, a latched socket stays open', async (t) => {
  const tg = await startGateway({ can: { sim: { nodes: [1, 2, 3] } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => [1, 2, 3].every((n) => gateway.parts.registry.find(`socket-${n}`)?.available), 4000, 'sockets online');
  // socket-3: humid and latched by the gateway, its node's own interlock broken. It must stay open.
  const latchedNode = gateway.parts.sim.sockets[2];
  latchedNode.interlockEnabled = false;
  latchedNode.setHumidity(92);
  await waitFor(() => gateway.parts.registry.byKey('can:3')?.state.gatewayLatch && !latchedNode.relay, 3000, 'socket-3 latched and open');
  let closed = false;
  const watch = setInterval(() => (closed ||= latchedNode.relay), 5);
  t.after(() => clearInterval(watch));

  const filters = gateway.parts.mqtt.filters();
  assert.ok(filters.length >= 4, filters.join(', '));
  const names = () => gateway.parts.registry.list().map((d) => d.name);
  const client = await recordingClient(gateway.mqttUrl(), ['canplug/bridge/response/#']);
  t.after(() => client.client.endAsync());
  // Answers to bridge requests (device/set refusals are answered on their own topic, successes are not).
  const responses = () => client.log.filter((m) => m.topic !== 'canplug/bridge/response/device/set').length;

  const RUNS = 400;
  const perFilter = new Map<string, number>();
  let sent = 0;
  let bytes = 0;
  let oversized = 0;
  let cutOff = 0;
  let requests = 0;
  /** Over the broker's packet limit: the broker closes the sender at the packet's header. */
  const publishCutOff = async (topic: string, body: Buffer) => {
    const sender = await mqtt.connectAsync(gateway.mqttUrl(), { reconnectPeriod: 0 });
    sender.on('error', () => {});
    const gone = new Promise<void>((resolve) => sender.once('close', () => resolve()));
    sender.publish(topic, body);
    await gone;
    cutOff++;
  };
  const count = (topic: string, body: Buffer) => {
    if (body.length > MAX_PAYLOAD_BYTES) oversized++;
    else if (topic.startsWith('canplug/bridge/request/')) requests++; // each one gets a response, whatever it holds
  };
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...filters).chain((f) => fc.tuple(fc.constant(f), topicFor(f, names))),
      payload,
      fc.boolean(),
      async ([filter, topic], body, retain) => {
        perFilter.set(filter, (perFilter.get(filter) ?? 0) + 1);
        sent++;
        bytes += body.length;
        if (body.length + topic.length + 16 > MAX_PACKET_BYTES) return publishCutOff(topic, body);
        await client.client.publishAsync(topic, body, { qos: 1, retain });
        count(topic, body);
        if (retain) {
          await client.client.publishAsync(topic, '', { qos: 1, retain: true }); // leave nothing retained behind
          count(topic, Buffer.alloc(0));
        }
      },
    ),
    { numRuns: RUNS },
  );

  // Every message so far is handled once this request, sent after them on the same connection, is answered.
  requests++;
  await client.client.publishAsync('canplug/bridge/request/health_check', '{"transaction":"last"}', { qos: 1 });
  const last = await waitFor(() => client.log.find((m) => m.payload.includes('"last"')), 10_000, 'the final health check answered');
  assert.equal(JSON.parse(last.payload).status, 'ok');
  // Requests that talk to a node (device/report) may be answered after the health check.
  await waitFor(() => responses() >= requests, 5000, `${requests} bridge responses (have ${responses()})`);
  assert.equal(responses(), requests, 'one response per bridge request, malformed or not');
  assert.equal(gateway.parts.mqtt.rejected, oversized, 'only the oversized were refused before a handler; no handler threw');
  assert.equal(gateway.parts.broker!.refused.packets_too_large, cutOff, 'the broker cut off every sender over its packet limit');
  assert.equal(gateway.health().status, 'ok', JSON.stringify(gateway.health()));
  assert.equal(gateway.parts.mqtt.connected, true);
  assert.equal(closed, false, 'the latched socket never closed');
  assert.equal((await gateway.parts.api.inject({ url: '/api/devices' })).statusCode, 200);
  for (const filter of filters) assert.ok((perFilter.get(filter) ?? 0) > 0, `nothing sent on ${filter}`);
  t.diagnostic(
    `${sent} messages (${(bytes / 1e6).toFixed(1)} MB) on ${filters.length} filters (${[...perFilter].map(([f, n]) => `${f}: ${n}`).join(', ')}); ${gateway.parts.mqtt.rejected} refused before a handler, ${cutOff} senders cut off by the broker`,
  );
  recordFigure({
    kind: 'fuzz',
    name: `MQTT payloads on ${filters.length} subscribed filters`,
    cases: RUNS,
    crashes: 0,
    note: `${(bytes / 1e6).toFixed(1)} MB`,
  });
});
