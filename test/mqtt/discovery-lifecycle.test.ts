import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { discoveredEntities, haProblems, haView, misreadMessages, type HaView } from '../helpers/ha-rules.js';

async function request(ha: HaView, path: string, body: unknown): Promise<Record<string, unknown>> {
  const mark = ha.log.length;
  await ha.client.publishAsync(`canplug/bridge/request/${path}`, JSON.stringify(body));
  const message = await waitFor(() => ha.log.slice(mark).find((m) => m.topic === `canplug/bridge/response/${path}`), 3000, path);
  return JSON.parse(message.payload);
}

/** What a client connecting now gets from the broker: the retained topics only. */
async function retainedNow(url: string): Promise<Map<string, string>> {
  const fresh = await haView(url);
  await new Promise((r) => setTimeout(r, 300));
  await fresh.close();
  return fresh.topics;
}

const byNode = (topics: Map<string, string>, nodeId: string) => discoveredEntities(topics).filter((e) => e.nodeId === nodeId);
/** Discovery configs of a CAN socket: switch, 6 sensors, 3 binary sensors, the safety event, 3 diagnostics. */
const SOCKET_CONFIGS = 14;

test('rename keeps the HA entities (same unique_ids and topics), moves their state topics and clears the old ones', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  const ha = await haView(gateway.mqttUrl());
  t.after(() => ha.close());
  const node2 = gateway.parts.discovery!.nodeId('can:2');
  await waitFor(() => byNode(ha.topics, node2).length === SOCKET_CONFIGS && ha.topics.has('canplug/socket-2'), 5000, 'socket-2 discovered');
  const before = byNode(ha.topics, node2);

  const res = await request(ha, 'device/rename', { from: 'socket-2', to: 'kitchen kettle', transaction: 'r1' });
  assert.deepEqual(res, { data: { from: 'socket-2', to: 'kitchen kettle', key: 'can:2' }, status: 'ok', transaction: 'r1' });
  await waitFor(
    () =>
      byNode(ha.topics, node2).every(
        (e) => e.config.state_topic === (e.component === 'event' ? 'canplug/kitchen kettle/event' : 'canplug/kitchen kettle'),
      ),
    3000,
    'discovery moved',
  );
  const after = byNode(ha.topics, node2);
  assert.deepEqual(
    after.map((e) => [e.topic, e.config.unique_id]),
    before.map((e) => [e.topic, e.config.unique_id]),
    'same entities',
  );
  for (const e of after) {
    assert.equal((e.config.device as { name: string }).name, 'kitchen kettle');
    assert.deepEqual(e.config.availability, [{ topic: 'canplug/bridge/state' }, { topic: 'canplug/kitchen kettle/availability' }]);
    if (e.component === 'switch') assert.equal(e.config.command_topic, 'canplug/kitchen kettle/set');
  }

  const retained = await waitFor(
    async () => {
      const now = await retainedNow(gateway.mqttUrl());
      return !now.has('canplug/socket-2') && now.has('canplug/kitchen kettle') && now;
    },
    6000,
    'old state topic cleared, new one retained',
  );
  assert.ok(!retained.has('canplug/socket-2/availability'));
  assert.equal(retained.get('canplug/kitchen kettle/availability'), 'online');
  assert.deepEqual(haProblems(retained), []);
  // In the order HA got them, no config read a cleared topic; and HA had a good while to apply the new configs first.
  assert.deepEqual(misreadMessages(ha.log), []);
  const moved = Math.max(
    ...ha.log.filter((m) => m.topic.startsWith(`homeassistant/`) && m.payload.includes('kitchen kettle')).map((m) => m.at),
  );
  const cleared = ha.log.find((m) => m.topic === 'canplug/socket-2' && m.payload === '')!.at;
  assert.ok(cleared - moved > 1000, `old state cleared ${Math.round(cleared - moved)} ms after the last config moved`);

  await ha.client.publishAsync('canplug/kitchen kettle/set', '{"state":"OFF"}');
  await waitFor(() => !gateway.parts.sim.sockets[1].relay, 2000, 'the new command topic switches the socket');
});

test('renamed and back within the retirement delay: the name in use keeps its retained topics', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  const ha = await haView(gateway.mqttUrl());
  t.after(() => ha.close());
  await waitFor(() => ha.topics.get('canplug/socket-1/availability') === 'online', 5000, 'socket-1 online');
  assert.equal((await request(ha, 'device/rename', { from: 'socket-1', to: 'lamp' })).status, 'ok');
  assert.equal((await request(ha, 'device/rename', { from: 'lamp', to: 'socket-1' })).status, 'ok');
  await new Promise((r) => setTimeout(r, 3000)); // past the 2 s after which retired topics are cleared
  const retained = await retainedNow(gateway.mqttUrl());
  assert.equal(retained.get('canplug/socket-1/availability'), 'online');
  assert.ok(retained.has('canplug/socket-1'), 'state kept');
  assert.ok(!retained.has('canplug/lamp') && !retained.has('canplug/lamp/availability'), 'the name left behind is cleared');
  assert.deepEqual(misreadMessages(ha.log), []);
});

test('remove: refused while online, then every discovery config cleared with empty retained payloads; stale configs of ours are cleared too', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  const ha = await haView(gateway.mqttUrl());
  t.after(() => ha.close());
  const node2 = gateway.parts.discovery!.nodeId('can:2');
  await waitFor(() => byNode(ha.topics, node2).length === SOCKET_CONFIGS, 5000, 'socket-2 discovered');
  const topics = byNode(ha.topics, node2).map((e) => e.topic);

  const refused = await request(ha, 'device/remove', { id: 'socket-2' });
  assert.equal(refused.status, 'error');
  gateway.parts.sim.sockets[1].silent = true; // unplugged
  await waitFor(() => ha.topics.get('canplug/socket-2/availability') === 'offline', 4000, 'socket-2 offline');
  const mark = ha.log.length;
  const removed = await request(ha, 'device/remove', { id: 'socket-2' });
  assert.equal(removed.status, 'ok');
  await waitFor(
    () => topics.every((topic) => ha.log.slice(mark).some((m) => m.topic === topic && m.payload === '')),
    2000,
    'every config cleared',
  );
  // The state topics go a moment after the configs (Retirement), so no entity still reads them then.
  const retained = await waitFor(
    async () => {
      const now = await retainedNow(gateway.mqttUrl());
      return !now.has('canplug/socket-2') && !now.has('canplug/socket-2/availability') && now;
    },
    6000,
    'state and availability cleared',
  );
  assert.deepEqual(byNode(retained, node2), []);
  assert.deepEqual(misreadMessages(ha.log), [], 'no config read a topic while it was cleared');
  assert.deepEqual(
    JSON.parse(retained.get('canplug/bridge/devices')!).map((d: { key: string }) => d.key),
    ['can:1'],
  );
  assert.equal(byNode(retained, gateway.parts.discovery!.nodeId('can:1')).length, SOCKET_CONFIGS, 'the other socket is untouched');

  // A config of ours that no device owns (left over from a run where the device was removed while stopped): cleared.
  const { bridgeId } = gateway.parts.discovery!;
  const node9 = gateway.parts.discovery!.nodeId('can:9');
  const stale = `homeassistant/sensor/${node9}/voltage/config`;
  const foreign = `homeassistant/sensor/${node9}_x/voltage/config`; // another gateway, whose id starts like ours
  await ha.client.publishAsync(
    stale,
    JSON.stringify({ unique_id: 'x', state_topic: 'canplug/socket-9', device: { identifiers: [node9], via_device: bridgeId } }),
    { retain: true, qos: 1 },
  );
  await ha.client.publishAsync(
    foreign,
    JSON.stringify({
      unique_id: 'y',
      state_topic: 'canplug_x/socket-9',
      device: { identifiers: [`${node9}_x`], via_device: `${bridgeId}_x` },
    }),
    { retain: true, qos: 1 },
  );
  await waitFor(() => !ha.topics.has(stale), 2000, 'stale config cleared');
  assert.ok((await retainedNow(gateway.mqttUrl())).has(foreign), "another gateway's config is left alone");

  // The node comes back: it is a new device again, discovered at once.
  gateway.parts.sim.sockets[1].silent = false;
  await waitFor(() => byNode(ha.topics, node2).length === SOCKET_CONFIGS, 4000, 'rediscovered');
});

test('discovery is generic over what a kind reports: a Wi-Fi plug gets a switch and a power sensor, more when it reports more', async (t) => {
  const tg = await startGateway({ can: { sim: { nodes: [1] } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const ha = await haView(gateway.mqttUrl());
  t.after(() => ha.close());
  const plug = gateway.parts.registry.ensure('wifi:8266001', 'wifi', 'desk-plug');
  gateway.parts.registry.markSeen(plug);
  gateway.parts.registry.reading({ device: plug, ts: Date.now(), power: 42.5, relay: true }, { state: { relay: true, power: 42.5 } });
  const nodeId = gateway.parts.discovery!.nodeId('wifi:8266001');
  await waitFor(() => byNode(ha.topics, nodeId).length === 3 && ha.topics.has('canplug/desk-plug'), 3000, 'plug discovered');
  assert.deepEqual(
    byNode(ha.topics, nodeId)
      .map((e) => `${e.component}/${e.objectId}`)
      .sort(),
    ['event/safety_event', 'sensor/power', 'switch/switch'],
  );
  assert.equal((byNode(ha.topics, nodeId)[0].config.device as { manufacturer: string }).manufacturer, 'AsyncSmartPlug');
  await waitFor(() => haProblems(ha.topics).length === 0, 3000).catch(() => assert.deepEqual(haProblems(ha.topics), []));

  gateway.parts.registry.reading({ device: plug, ts: Date.now(), energy: 1.25 }, { state: { energy: 1.25 } });
  await waitFor(() => byNode(ha.topics, nodeId).length === 4, 3000, 'energy sensor added');
  assert.equal(byNode(ha.topics, nodeId).find((e) => e.objectId === 'energy')!.config.state_class, 'total_increasing');
});

test('the legacy seed socket appears with the entities its frames carry', async (t) => {
  const tg = await startGateway({ can: { protocol: 'seed' } });
  t.after(() => tg.stop());
  const ha = await haView(tg.gateway.mqttUrl());
  t.after(() => ha.close());
  const nodeId = tg.gateway.parts.discovery!.nodeId('seed');
  await waitFor(() => byNode(ha.topics, nodeId).length === 8, 4000, 'seed discovered');
  assert.deepEqual(
    byNode(ha.topics, nodeId)
      .map((e) => `${e.component}/${e.objectId}`)
      .sort(),
    [
      'binary_sensor/interlock',
      'binary_sensor/problem',
      'event/safety_event',
      'sensor/current',
      'sensor/humidity',
      'sensor/power',
      'sensor/voltage',
      'switch/switch',
    ],
  );
  await waitFor(() => haProblems(ha.topics).length === 0, 3000).catch(() => assert.deepEqual(haProblems(ha.topics), []));
});
