// Home Assistant discovery on its own: Discovery on a real MqttConnection to the embedded broker and a
// real registry on a temporary database; what HA would read is recorded by a second client.
// (home-assistant.test.ts and discovery-lifecycle.test.ts do it with whole gateways.)
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/log.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { Discovery } from '../../src/mqtt/discovery.js';
import { ENTITIES } from '../../src/mqtt/ha-entities.js';
import { startEmbeddedBroker } from '../../src/mqtt/embedded-broker.js';
import { recordingClient, waitFor } from '../helpers/gateway.js';
import { canDevice, unitRegistry } from '../helpers/unit.js';

const PREFIX = 'homeassistant';

async function setup(t: TestContext) {
  const unit = unitRegistry(t);
  const broker = await startEmbeddedBroker('127.0.0.1', 0);
  t.after(() => broker.close());
  const connection = new MqttConnection({ url: broker.url, baseTopic: 'canplug', instance: 'test', guard: false, log: silentLogger });
  await connection.start();
  t.after(() => connection.stop());
  const discovery = new Discovery({
    connection,
    events: unit.events,
    registry: unit.registry,
    baseTopic: 'canplug',
    prefix: PREFIX,
    gatewayId: 'gw1',
    dashboardUrl: 'http://127.0.0.1:8080',
    version: '0.0.0-test',
    log: silentLogger,
  });
  const ha = await recordingClient(broker.url, [`${PREFIX}/#`]);
  t.after(() => ha.client.endAsync());
  /** The configs on the broker now (an empty payload clears one). */
  const configs = () => new Map([...ha.messages].filter(([, payload]) => payload !== ''));
  return { ...unit, discovery, ha, configs, url: broker.url };
}

type Config = {
  unique_id: string;
  state_topic: string;
  command_topic?: string;
  device: { identifiers: string[]; name: string; via_device: string };
};

test('a CAN socket becomes one HA device with every entity, keyed on its node id; a rename keeps the unique_ids and moves the state topic', async (t) => {
  const { discovery, registry, configs, ...unit } = await setup(t);
  discovery.start();
  t.after(() => discovery.stop());
  const device = canDevice({ registry, ...unit }, 5);
  const topics = () => [...configs().keys()].filter((topic) => topic.includes('canplug_gw1_can_5'));
  await waitFor(() => topics().length === ENTITIES.length, 3000, 'every entity of socket-5');
  const before = configs();
  const sw = JSON.parse(before.get(`${PREFIX}/switch/canplug_gw1_can_5/switch/config`)!) as Config;
  assert.equal(sw.unique_id, 'canplug_gw1_can_5_switch');
  assert.equal(sw.command_topic, 'canplug/socket-5/set');
  assert.equal(sw.device.via_device, 'canplug_gw1_bridge');
  assert.ok(before.has(`${PREFIX}/binary_sensor/canplug_gw1_bridge/connection_state/config`), 'the bridge is a device too');

  registry.rename(device, 'Dryer');
  await waitFor(
    () => (JSON.parse(configs().get(`${PREFIX}/switch/canplug_gw1_can_5/switch/config`)!) as Config).state_topic === 'canplug/Dryer',
    3000,
    'state topic moved',
  );
  const after = configs();
  for (const topic of topics()) {
    const old = JSON.parse(before.get(topic)!) as Config;
    const now = JSON.parse(after.get(topic)!) as Config;
    assert.equal(now.unique_id, old.unique_id, `${topic} keeps its unique_id`);
    assert.equal(now.device.name, 'Dryer');
  }
});

test("a removed device's configs are cleared with empty retained payloads", async (t) => {
  const { discovery, registry, configs, ha, ...unit } = await setup(t);
  discovery.start();
  t.after(() => discovery.stop());
  const device = canDevice({ registry, ...unit }, 6);
  await waitFor(() => configs().has(`${PREFIX}/switch/canplug_gw1_can_6/switch/config`), 3000, 'socket-6 discovered');
  registry.remove(device, { force: true }); // online: it would come back at its next heartbeat, which never comes here
  await waitFor(() => ![...configs().keys()].some((topic) => topic.includes('can_6')), 3000, 'every config cleared');
  // Each entity's topic got its empty retained payload (one may come twice: our own subscription can
  // see an earlier config arrive after the removal and clears it again, which changes nothing).
  const cleared = new Set(ha.log.filter((m) => m.topic.includes('can_6') && m.payload === '').map((m) => m.topic));
  assert.equal(cleared.size, ENTITIES.length);
});

test('a Wi-Fi plug gets a switch, a power sensor and the safety event; a quantity it starts to report adds its sensor', async (t) => {
  const { discovery, registry, configs } = await setup(t);
  discovery.start();
  t.after(() => discovery.stop());
  const plug = registry.ensure('wifi:42', 'wifi', 'Heater');
  const objects = () =>
    [...configs().keys()]
      .filter((topic) => topic.includes('wifi_42'))
      .map((topic) => topic.split('/')[3])
      .sort();
  await waitFor(() => objects().length === 3, 3000, 'the plug discovered');
  assert.deepEqual(objects(), ['power', 'safety_event', 'switch']);
  registry.update(plug, { state: { voltage: 231 } });
  await waitFor(() => objects().includes('voltage'), 3000, 'a voltage sensor once it reports voltage');
});

test('HA\'s birth message re-sends every config; a retained "online" (the broker remembering) does not', async (t) => {
  const { discovery, ha, ...unit } = await setup(t);
  canDevice(unit, 1);
  const sent = () => ha.log.filter((m) => m.topic.endsWith('/config')).length;
  // Left by an earlier HA run: the broker hands it over when Discovery subscribes.
  await ha.client.publishAsync(`${PREFIX}/status`, 'online', { retain: true, qos: 1 });
  discovery.start();
  t.after(() => discovery.stop());
  await waitFor(() => sent() === ENTITIES.length + 2, 3000, 'socket-1 and the bridge discovered');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(sent(), ENTITIES.length + 2, 'sent once: the retained birth message is not HA starting now');

  await ha.client.publishAsync(`${PREFIX}/status`, 'online', { qos: 1 });
  await waitFor(() => sent() === 2 * (ENTITIES.length + 2), 3000, 'everything re-sent');
});

test("at start, a retained config of ours that no entity owns is cleared; another gateway's is left alone", async (t) => {
  const { discovery, ha, url } = await setup(t);
  const ours = `${PREFIX}/sensor/canplug_gw1_can_9/power/config`;
  const theirs = `${PREFIX}/sensor/canplug_gw2_can_9/power/config`;
  const stale = (via: string) => JSON.stringify({ unique_id: 'x', device: { identifiers: ['x'], via_device: via } });
  const other = await recordingClient(url, ['unused/+']);
  t.after(() => other.client.endAsync());
  await other.client.publishAsync(ours, stale('canplug_gw1_bridge'), { retain: true, qos: 1 });
  await other.client.publishAsync(theirs, stale('canplug_gw2_bridge'), { retain: true, qos: 1 });
  await waitFor(() => ha.messages.has(ours) && ha.messages.has(theirs), 3000, 'both stale configs retained');

  discovery.start();
  t.after(() => discovery.stop());
  await waitFor(() => ha.messages.get(ours) === '', 3000, 'our stale config cleared');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.notEqual(ha.messages.get(theirs), '', "the other gateway's config stays");
});
