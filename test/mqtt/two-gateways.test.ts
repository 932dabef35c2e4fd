import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { discoveredEntities, haProblems, haView } from '../helpers/ha-rules.js';
import { mosquittoTest, startMosquitto } from '../helpers/mosquitto.js';

const NODES = Array.from({ length: 63 }, (_, i) => i + 1);
/** Per socket: switch, 6 sensors, 3 binary sensors, the safety event, 3 diagnostics; per gateway 2 more for the bridge. */
const CONFIGS = NODES.length * (14 + 1) + 2; // 14 entities and the firmware update entity per socket, the bridge's two
const MEASURE_S = 30;

test('two gateways with a full bus of 63 sockets each on one Mosquitto: nothing collides, all discovered, broker load at the default report period', {
  ...mosquittoTest(),
  timeout: 180_000,
}, async (t) => {
  const mosquitto = await startMosquitto();
  t.after(() => mosquitto.close());
  const ha = await haView(mosquitto.url, ['homeassistant/#', 'canplug/#', 'annex/#', '$SYS/broker/clients/connected']);
  t.after(() => ha.close());

  // The default report period (1 s) and readings that wander like real ones.
  const sim = { nodes: NODES, report_period_ms: 1000, wander: true };
  const gateways: TestGateway[] = [];
  const started: number[] = [];
  for (const base of ['canplug', 'annex']) {
    const begin = performance.now();
    const tg = await startGateway({ can: { sim, heartbeat_timeout_ms: 3500 }, mqtt: { url: mosquitto.url, base_topic: base } });
    t.after(() => tg.stop());
    gateways.push(tg);
    const configs = (topics: Map<string, string>) =>
      discoveredEntities(topics).filter((e) => String(e.config.state_topic).startsWith(`${base}/`));
    await waitFor(
      () => configs(ha.topics).length === CONFIGS && NODES.every((n) => ha.topics.get(`${base}/socket-${n}/availability`) === 'online'),
      60_000,
      `${base}: ${CONFIGS} configs and 63 sockets online`,
    );
    started.push(performance.now() - begin);
  }
  const closes = gateways.map(() => 0);
  gateways.forEach((tg, i) => {
    tg.gateway.parts.mqtt.on('close', () => closes[i]++);
  });

  // Broker load: everything both gateways publish, over MEASURE_S seconds of steady running (after each new
  // device's first readings, which go out as they are first seen).
  await new Promise((r) => setTimeout(r, 10_000));
  const publishedBefore = gateways.map((tg) => tg.gateway.parts.mqtt.published);
  // Without the publish policy every change of a device was a state message.
  let changes = 0;
  const counters = gateways.map((tg) => tg.gateway.parts.events.subscribe('test', { 'device.changed': () => void changes++ }));
  const mark = ha.log.length;
  await new Promise((r) => setTimeout(r, MEASURE_S * 1000));
  for (const stop of counters) stop();
  // Mosquitto's count (every 10 s): a shared client id would have the broker drop one gateway whenever the other connects.
  const connectedClients = ha.topics.get('$SYS/broker/clients/connected');
  const perSecond = gateways.map((tg, i) => (tg.gateway.parts.mqtt.published - publishedBefore[i]) / MEASURE_S);
  const delivered = ha.log.slice(mark).filter((m) => !m.topic.startsWith('$SYS/')).length / MEASURE_S;

  // What a client connecting now gets, at QoS 0 as Home Assistant subscribes: the retained topics.
  const fresh = await haView(mosquitto.url, ['#'], {}, 0);
  await new Promise((r) => setTimeout(r, 1500));
  await fresh.close();
  const retained = new Map([...fresh.topics].filter(([topic]) => !topic.startsWith('$SYS/')));

  const entities = discoveredEntities(retained);
  assert.equal(entities.length, 2 * CONFIGS);
  assert.deepEqual(haProblems(retained), [], 'HA accepts every config; no unique_id is used twice');
  const uniqueIds = entities.map((e) => e.config.unique_id as string);
  assert.equal(new Set(uniqueIds).size, uniqueIds.length, 'zero colliding unique_ids');
  const devices = new Set(entities.map((e) => (e.config.device as { identifiers: string[] }).identifiers[0]));
  assert.equal(devices.size, 2 * (NODES.length + 1), 'one HA device per socket per gateway, and the two bridges');
  const reads = (c: Record<string, unknown>) =>
    [c.state_topic, c.availability_topic, ...((c.availability as { topic: string }[] | undefined) ?? []).map((a) => a.topic)].filter(
      Boolean,
    );
  const readTopics = (base: string) =>
    new Set(entities.filter((e) => String(e.config.state_topic).startsWith(`${base}/`)).flatMap((e) => reads(e.config)));
  const shared = [...readTopics('canplug')].filter((topic) => readTopics('annex').has(topic));
  assert.deepEqual(shared, [], 'no state, event or availability topic read by both');
  assert.equal(retained.get('canplug/bridge/state'), 'online');
  assert.equal(retained.get('annex/bridge/state'), 'online');
  const infos = ['canplug', 'annex'].map(
    (base) => JSON.parse(retained.get(`${base}/bridge/info`)!) as { gateway_id: string; instance: string },
  );
  assert.notEqual(infos[0].gateway_id, infos[1].gateway_id);
  assert.deepEqual(closes, [0, 0], 'neither gateway was disconnected');
  assert.equal(connectedClients, '3', 'two gateways and this subscriber, all connected');
  for (const tg of gateways) assert.equal(tg.gateway.health().status, 'ok');

  const node1 = gateways[0].gateway.parts.discovery!.nodeId('can:1');
  const socket1 = [...retained.keys()].filter(
    (topic) =>
      topic === 'canplug/socket-1' || topic.startsWith('canplug/socket-1/') || [node1, `${node1}_update`].includes(topic.split('/')[2]),
  );
  assert.equal(socket1.length, 18, `retained for socket-1: ${socket1.join(', ')}`);
  t.diagnostic(
    `start to all discovery: ${started.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}; ` +
      `retained topics per socket: ${socket1.length} (15 configs, state, availability, firmware update state), per gateway ${[...retained.keys()].filter((k) => k.startsWith('canplug/')).length + CONFIGS}; ` +
      `published per second: ${perSecond.map((n) => n.toFixed(1)).join(' + ')} (every change would be ${(changes / MEASURE_S).toFixed(0)}); delivered to a subscriber on everything: ${delivered.toFixed(1)}/s`,
  );
});
