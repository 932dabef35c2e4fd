import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '../../src/daemon/gateway.js';
import { silentLogger } from '../../src/log.js';
import { startGateway, testConfig, waitFor, type DeepPartial } from '../helpers/gateway.js';
import type { Config } from '../../src/config/config.js';
import { discoveredEntities, haProblems, haView, misreadMessages } from '../helpers/ha-rules.js';
import { startBroker } from '../helpers/broker.js';

/** A gateway on a database directory the test keeps, so a second run is the same gateway restarted. */
async function runGateway(dir: string, overrides: DeepPartial<Config>): Promise<Gateway> {
  const gateway = new Gateway({ config: testConfig(overrides, dir), log: silentLogger });
  await gateway.start();
  return gateway;
}

/** What a client connecting now gets from the broker: the retained topics only. */
async function retainedNow(url: string, filters: string[]): Promise<Map<string, string>> {
  const fresh = await haView(url, filters);
  await new Promise((r) => setTimeout(r, 300));
  await fresh.close();
  return fresh.topics;
}

test('a restart with another base topic moves the HA entities (same unique_ids) and clears the old topics once the configs moved', async (t) => {
  const mosquitto = await startBroker();
  t.after(() => mosquitto.close());
  const dir = mkdtempSync(join(tmpdir(), 'canplug-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ha = await haView(mosquitto.url, ['homeassistant/#', 'canplug/#', 'house/#']);
  t.after(() => ha.close());

  const first = await runGateway(dir, { mqtt: { url: mosquitto.url } });
  await waitFor(
    () => discoveredEntities(ha.topics).length === 2 * (14 + 1) + 2 && ha.topics.get('canplug/socket-2/availability') === 'online',
    5000,
    'discovered under canplug',
  );
  const before = discoveredEntities(ha.topics).map((e) => [e.topic, e.config.unique_id]);
  await first.stop();

  const second = await runGateway(dir, { mqtt: { url: mosquitto.url, base_topic: 'house' } });
  t.after(() => second.stop());
  const onHouse = (e: { config: Record<string, unknown> }) => String(e.config.state_topic).startsWith('house/');
  await waitFor(
    () => discoveredEntities(ha.topics).every(onHouse) && ha.topics.get('house/socket-2/availability') === 'online',
    5000,
    'configs moved to house/',
  );
  assert.deepEqual(
    discoveredEntities(ha.topics).map((e) => [e.topic, e.config.unique_id]),
    before,
    'the same entities, moved',
  );

  const retained = await waitFor(
    async () => {
      const now = await retainedNow(mosquitto.url, ['homeassistant/#', 'canplug/#', 'house/#']);
      return ![...now.keys()].some((topic) => topic.startsWith('canplug/')) && now;
    },
    8000,
    'every canplug/ topic cleared',
  );
  assert.deepEqual(haProblems(retained), []);
  assert.equal(retained.get('house/bridge/state'), 'online');
  assert.deepEqual(misreadMessages(ha.log), [], 'no config read an old topic while it was cleared');
});

test('a restart with another base topic leaves the old one alone when another gateway publishes there now', async (t) => {
  const mosquitto = await startBroker();
  t.after(() => mosquitto.close());
  const dir = mkdtempSync(join(tmpdir(), 'canplug-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await runGateway(dir, { mqtt: { url: mosquitto.url } });
  await first.stop();
  // Meanwhile a new gateway took the base topic canplug.
  const other = await startGateway({ mqtt: { url: mosquitto.url }, can: { sim: { nodes: [5] } } });
  t.after(() => other.stop());
  const moved = await runGateway(dir, { mqtt: { url: mosquitto.url, base_topic: 'house' } });
  t.after(() => moved.stop());
  await new Promise((r) => setTimeout(r, 4500)); // past the retirement delay
  const retained = await retainedNow(mosquitto.url, ['canplug/#']);
  assert.equal(retained.get('canplug/bridge/state'), 'online', "the other gateway's bridge state stays");
  assert.equal(retained.get('canplug/socket-5/availability'), 'online');
  assert.ok(retained.has('canplug/socket-1'), 'the first gateway left its old state topics (the other could own those names)');
});

test('a restart with another discovery prefix clears the configs under the old one', async (t) => {
  const mosquitto = await startBroker();
  t.after(() => mosquitto.close());
  const dir = mkdtempSync(join(tmpdir(), 'canplug-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await runGateway(dir, { mqtt: { url: mosquitto.url } });
  const old = await waitFor(
    async () => {
      const now = await retainedNow(mosquitto.url, ['homeassistant/#']);
      return discoveredEntities(now).length === 2 * (14 + 1) + 2 && now;
    },
    5000,
    'discovered under homeassistant/',
  );
  await first.stop();

  const second = await runGateway(dir, { mqtt: { url: mosquitto.url, discovery_prefix: 'ha2' } });
  t.after(() => second.stop());
  const now = await waitFor(
    async () => {
      const retained = await retainedNow(mosquitto.url, ['homeassistant/#', 'ha2/#']);
      return discoveredEntities(retained).length === 0 && retained;
    },
    5000,
    'the old prefix empty',
  );
  const moved = discoveredEntities(now, 'ha2');
  assert.deepEqual(
    moved.map((e) => e.topic.slice('ha2/'.length)).sort(),
    discoveredEntities(old)
      .map((e) => e.topic.slice('homeassistant/'.length))
      .sort(),
  );
});

test('a second gateway on the same base topic stays off MQTT with the reason; the first keeps its topics', async (t) => {
  const mosquitto = await startBroker();
  t.after(() => mosquitto.close());
  const first = await startGateway({ mqtt: { url: mosquitto.url } });
  t.after(() => first.stop());
  const ha = await haView(mosquitto.url);
  t.after(() => ha.close());
  await waitFor(() => discoveredEntities(ha.topics).length === 2 * (14 + 1) + 2, 5000, 'the first gateway discovered');
  const marks = ha.log.length;

  const second = await startGateway({ mqtt: { url: mosquitto.url }, can: { sim: { nodes: [1, 2, 3] } } });
  t.after(() => second.stop());
  assert.equal(second.gateway.parts.mqtt.refused, true);
  const health = second.gateway.health() as { status: string; mqtt: { error?: string } };
  assert.equal(health.status, 'degraded');
  assert.match(
    health.mqtt.error ?? '',
    /another canplug gateway is online on base topic "canplug" \(on host .+, gateway id [0-9a-f]{6}.*\).*give each gateway its own mqtt\.base_topic/,
  );
  await second.stop();
  await new Promise((r) => setTimeout(r, 300));
  // Nothing of the second one reached the broker: no state, no config, no offline from its shutdown or last will.
  const after = ha.log
    .slice(marks)
    .filter((m) => m.topic !== 'canplug/bridge/request/health_check' && !m.topic.startsWith('canplug/bridge/response/'));
  assert.deepEqual(
    after.filter((m) => !/^canplug\/socket-[12](\/availability)?$/.test(m.topic)),
    [],
    'only the first gateway published',
  );
  assert.equal(ha.topics.get('canplug/bridge/state'), 'online');
  assert.equal(first.gateway.health().status, 'ok');

  // Two started at the same instant both found the topic free: the other's bridge info, published live, says so.
  await ha.client.publishAsync(
    'canplug/bridge/info',
    JSON.stringify({ version: '0.1.0', base_topic: 'canplug', instance: 'feedbeef', host: 'pi-b' }),
    { qos: 1 },
  );
  await waitFor(() => first.gateway.health().status === 'degraded', 2000, 'the conflict in health');
  assert.match(
    (first.gateway.health() as unknown as { mqtt: { error: string } }).mqtt.error,
    /another canplug gateway on host pi-b publishes on base topic "canplug" too/,
  );
});

test('a bridge state left online by a dead session does not stop the gateway; a late last will of it is answered with online', async (t) => {
  const mosquitto = await startBroker();
  t.after(() => mosquitto.close());
  const ha = await haView(mosquitto.url);
  t.after(() => ha.close());
  // What a gateway that lost power leaves: online, retained, until the broker times its session out.
  await ha.client.publishAsync('canplug/bridge/state', 'online', { retain: true, qos: 1 });
  const tg = await startGateway({ mqtt: { url: mosquitto.url } });
  t.after(() => tg.stop());
  assert.equal(tg.gateway.parts.mqtt.connected, true, 'nobody answered on the base topic: online');
  await waitFor(() => discoveredEntities(ha.topics).length === 2 * (14 + 1) + 2, 5000, 'discovered');

  // The dead session's will arrives at last (about 1.5 keepalives later): the gateway says online again at once.
  const mark = ha.log.length;
  await ha.client.publishAsync('canplug/bridge/state', 'offline', { retain: true, qos: 1 });
  // Wait for the will itself to come back first: a broker may acknowledge it before delivering it (aedes does).
  const states = () =>
    ha.log
      .slice(mark)
      .filter((m) => m.topic === 'canplug/bridge/state')
      .map((m) => m.payload);
  await waitFor(() => states().includes('offline') && states().at(-1) === 'online', 2000, 'offline, then online again');
  assert.deepEqual(states(), ['offline', 'online']);
});
