// The embedded broker runs inside the daemon: what a client sends costs the daemon's memory and
// event loop. Packets, clients, subscriptions and retained messages are bounded, and the gateway's
// own connection cannot be taken over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { EmbeddedBroker, MAX_CLIENTS, MAX_PACKET_BYTES, MAX_SUBSCRIPTIONS_PER_CLIENT } from '../../src/mqtt/embedded-broker.js';
import { recordingClient, startGateway, waitFor } from '../helpers/gateway.js';

/** Resolves when the client's connection ends (the broker closed it). */
const closed = (client: MqttClient) => new Promise<void>((resolve) => client.once('close', () => resolve()));

test('a publish over the packet limit closes that client before its bytes are held; the gateway is untouched', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  let gatewayDrops = 0;
  gateway.parts.mqtt.on('close', () => gatewayDrops++);
  const sub = await recordingClient(gateway.mqttUrl(), ['test/#']);
  t.after(() => sub.client.endAsync());

  const near = await mqtt.connectAsync(gateway.mqttUrl(), { reconnectPeriod: 0 });
  t.after(() => near.endAsync(true));
  await near.publishAsync('test/near', Buffer.alloc(MAX_PACKET_BYTES - 1024, 'a'));
  await waitFor(() => sub.messages.get('test/near')?.length === MAX_PACKET_BYTES - 1024, 3000, 'a publish under the limit delivered');

  const big = await mqtt.connectAsync(gateway.mqttUrl(), { reconnectPeriod: 0 });
  big.on('error', () => {});
  const gone = closed(big);
  big.publish('test/big', Buffer.alloc(MAX_PACKET_BYTES + 1, 'b'));
  await gone;
  assert.equal(sub.messages.has('test/big'), false);

  // A raw client announcing 200 MB and sending 20 MB of it: cut off at the header, memory flat.
  const rssBefore = process.memoryUsage().rss;
  const socket = tcpConnect(new URL(gateway.mqttUrl()).port as unknown as number, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => {});
  const connectPacket = Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]);
  socket.write(connectPacket);
  await once(socket, 'data'); // CONNACK
  const length = 200 * 1024 * 1024;
  const header = [0x30];
  for (let x = length; ; ) {
    const byte = x % 128;
    x = Math.floor(x / 128);
    header.push(x > 0 ? byte | 0x80 : byte);
    if (x === 0) break;
  }
  socket.write(Buffer.from([...header, 0x00, 0x01, 0x74]));
  const chunk = Buffer.alloc(1024 * 1024, 'c');
  let written = 0;
  // events.once would reject on the reset; these only wait.
  const ended = new Promise((resolve) => socket.once('close', resolve));
  while (written < 20 && !socket.destroyed) {
    if (!socket.write(chunk)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), ended]);
    written++;
  }
  await ended;
  assert.ok(written < 20, `cut off after ${written} MB`);
  const grown = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
  assert.ok(grown < 30, `RSS grew ${grown.toFixed(1)} MB`);
  t.diagnostic(`a publish announcing 200 MB: cut off after ${written} MB sent, RSS grew ${grown.toFixed(1)} MB`);

  const health = (await gateway.parts.api.inject({ url: '/api/health' })).json();
  assert.equal(health.mqtt.embedded_broker.refused.packets_too_large, 2);
  assert.match(await gateway.parts.metrics.text(), /canplug_mqtt_broker_refused_total\{kind="packets_too_large"\} 2/);
  assert.equal(gatewayDrops, 0, 'the gateway stayed connected');
  assert.equal(gateway.parts.mqtt.connected, true);
});

test("the gateway's client id is random, and a second client with it is refused instead of kicking the gateway off", async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  const id = gateway.parts.mqtt.clientId;
  assert.match(id, /^canplug-[0-9a-f]{16}$/);
  const other = await startGateway();
  t.after(() => other.stop());
  assert.notEqual(other.gateway.parts.mqtt.clientId, id);
  let gatewayDrops = 0;
  gateway.parts.mqtt.on('close', () => gatewayDrops++);
  for (let i = 0; i < 5; i++) {
    await assert.rejects(mqtt.connectAsync(gateway.mqttUrl(), { clientId: id, reconnectPeriod: 0 }), /Identifier rejected/);
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(gatewayDrops, 0);
  assert.equal(gateway.parts.mqtt.connected, true);
  assert.equal(gateway.parts.broker!.refused.gateway_id_taken, 5);
  // It still switches sockets.
  await waitFor(() => gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');
  const ha = await mqtt.connectAsync(gateway.mqttUrl());
  t.after(() => ha.endAsync());
  await ha.publishAsync('canplug/socket-1/set', 'OFF');
  await waitFor(() => gateway.parts.sim.sockets[0].relay === false, 2000, 'switched over MQTT');
});

test("$SYS never shows the gateway's client id (it would be the key to a take-over)", async (t) => {
  const secret = 'canplug-0123456789abcdef';
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, gatewayClientId: secret });
  await broker.listen();
  t.after(() => broker.close());
  const spy = await recordingClient(broker.url, ['$SYS/#']);
  t.after(() => spy.client.endAsync());
  const gatewayLike = await mqtt.connectAsync(broker.url, { clientId: secret });
  await gatewayLike.subscribeAsync('canplug/+/set');
  const bystander = await mqtt.connectAsync(broker.url, { clientId: 'bystander' });
  await bystander.subscribeAsync('x/y');
  await waitFor(
    () => spy.log.some((m) => m.payload.includes('bystander') && m.topic.endsWith('/new/subscribes')),
    2000,
    'the bystander seen on $SYS',
  );
  await gatewayLike.endAsync();
  await bystander.endAsync();
  await waitFor(
    () => spy.log.some((m) => m.payload === 'bystander' && m.topic.endsWith('/disconnect/clients')),
    2000,
    'the bystander gone',
  );
  assert.equal(spy.log.filter((m) => m.payload.includes(secret)).length, 0);
});

test("clients past the limit are refused at CONNECT; the gateway's own connection is not counted", async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  const clients: MqttClient[] = [];
  t.after(() => Promise.all(clients.map((c) => c.endAsync(true))));
  for (let i = 0; i < MAX_CLIENTS; i++) clients.push(await mqtt.connectAsync(gateway.mqttUrl(), { reconnectPeriod: 0 }));
  await assert.rejects(mqtt.connectAsync(gateway.mqttUrl(), { reconnectPeriod: 0 }), /Server unavailable/);
  assert.equal(gateway.parts.mqtt.connected, true);
  await clients.pop()!.endAsync();
  await waitFor(() => gateway.parts.broker!.clients === MAX_CLIENTS, 2000, 'one slot free');
  clients.push(await mqtt.connectAsync(gateway.mqttUrl(), { reconnectPeriod: 0 }));
  assert.equal(gateway.parts.broker!.refused.clients_over_limit, 1);
});

test("subscriptions per client and retained messages are bounded; the gateway's own retained state still goes out", async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { gateway } = tg;
  const client = await mqtt.connectAsync(gateway.mqttUrl(), { reconnectPeriod: 0 });
  t.after(() => client.endAsync(true));
  const received: string[] = [];
  client.on('message', (topic) => received.push(topic));
  const topics = Array.from({ length: MAX_SUBSCRIPTIONS_PER_CLIENT + 5 }, (_, i) => `s/${i}`);
  await assert.rejects(client.subscribeAsync(topics), /Subscribe error/, 'the last ones are refused (SUBACK 0x80)');
  const publisher = await mqtt.connectAsync(gateway.mqttUrl(), { reconnectPeriod: 0 });
  for (const topic of ['s/0', `s/${MAX_SUBSCRIPTIONS_PER_CLIENT - 1}`, `s/${MAX_SUBSCRIPTIONS_PER_CLIENT + 4}`])
    await publisher.publishAsync(topic, 'x', { qos: 1 });
  await publisher.endAsync();
  await waitFor(() => received.length >= 2, 2000, 'messages on the granted subscriptions');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(received.sort(), ['s/0', `s/${MAX_SUBSCRIPTIONS_PER_CLIENT - 1}`]);

  const filler = await mqtt.connectAsync(gateway.mqttUrl(), { reconnectPeriod: 0 });
  filler.on('error', () => {});
  const cut = closed(filler);
  const payload = Buffer.alloc(200 * 1024, 'r');
  let sent = 0;
  // A QoS 1 publish cut off by the broker never completes: wait for the acknowledgement or the cut.
  for (; sent < 120 && filler.connected; sent++)
    await Promise.race([filler.publishAsync(`fill/${sent}`, payload, { retain: true, qos: 1 }), cut]);
  await cut;
  assert.ok(sent > 70 && sent < 90, `cut off after ${sent} retained messages of 200 KiB`);
  // The gateway's own retained topics still reach a new subscriber.
  await waitFor(() => gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');
  await gateway.parts.api.inject({ method: 'PATCH', url: '/api/devices/socket-1', headers: tg.auth, payload: { name: 'after-fill' } });
  const fresh = await recordingClient(gateway.mqttUrl(), ['canplug/after-fill']);
  t.after(() => fresh.client.endAsync());
  await waitFor(() => fresh.messages.has('canplug/after-fill'), 3000, 'retained state of the renamed socket');
  assert.ok(gateway.parts.broker!.refused.retained_over_limit >= 1);
});

test('a subscriber that joins while a retained topic changes ends with the newest value, never an older retained copy', async (t) => {
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0 });
  await broker.listen();
  t.after(() => broker.close());
  const publisher = await mqtt.connectAsync(broker.url);
  t.after(() => publisher.endAsync());
  // A gateway's worth of retained topics: aedes streams them to a new subscriber while live publishes flow.
  for (let i = 0; i < 200; i++) await publisher.publishAsync(`canplug/device-${i}`, JSON.stringify({ linkquality: i }), { retain: true });

  const rounds = 150;
  const stale: string[] = [];
  for (let round = 0; round < rounds; round++) {
    let version = 0;
    await publisher.publishAsync('canplug/socket-1', `{"version":${version}}`, { retain: true });
    const subscriber = await mqtt.connectAsync(broker.url);
    let last = '';
    subscriber.on('message', (topic, payload) => {
      if (topic === 'canplug/socket-1') last = payload.toString();
    });
    const subscribed = subscriber.subscribeAsync('canplug/#');
    // The state changes while the subscription and its retained messages are under way.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, round % 5));
      version++;
      publisher.publish('canplug/socket-1', `{"version":${version}}`, { retain: true });
    }
    await subscribed;
    const newest = `{"version":${version}}`;
    await waitFor(() => last === newest, 2000, `round ${round}: the newest state`).catch(() => stale.push(`round ${round}: ${last}`));
    await subscriber.endAsync();
  }
  assert.deepEqual(stale, [], `a retained copy older than a live publish arrived last in ${stale.length} of ${rounds} rounds`);

  // A new subscriber later still gets the retained value (the check drops only stale copies).
  const late = await recordingClient(broker.url, ['canplug/#']);
  t.after(() => late.client.endAsync());
  await waitFor(
    () => late.messages.get('canplug/socket-1') === '{"version":5}' && late.messages.size === 201,
    2000,
    'every retained value',
  );
});
