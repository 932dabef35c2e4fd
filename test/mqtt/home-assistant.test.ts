import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, waitFor, authHeaders } from '../helpers/gateway.js';
import { discoveredEntities, haProblems, haView, templateKey } from '../helpers/ha-rules.js';
import { mosquittoTest, startMosquitto } from '../helpers/mosquitto.js';

const SOCKET_ENTITIES = [
  'switch/switch',
  'sensor/voltage',
  'sensor/current',
  'sensor/power',
  'sensor/energy',
  'sensor/humidity',
  'sensor/temperature',
  'binary_sensor/interlock',
  'binary_sensor/fault',
  'binary_sensor/problem',
  'event/safety_event',
  'sensor/uptime',
  'sensor/firmware',
  'sensor/frames_lost',
];
const UNITS: Record<string, string> = {
  voltage: 'V',
  current: 'A',
  power: 'W',
  energy: 'kWh',
  humidity: '%',
  temperature: '°C',
  uptime: 's',
};
const NODES = [1, 2, 3];

for (const broker of ['embedded aedes', 'Mosquitto'] as const) {
  test(
    `${broker}: Home Assistant sees every socket as a ready-made device, states match REST, OFF opens the relay, discovery re-sent on HA's birth`,
    broker === 'Mosquitto' ? mosquittoTest() : {},
    async (t) => {
      let url = '';
      if (broker === 'Mosquitto') {
        const mosquitto = await startMosquitto();
        t.after(() => mosquitto.close());
        url = mosquitto.url;
      }
      const tg = await startGateway({ can: { sim: { nodes: NODES } }, mqtt: { url } });
      t.after(() => tg.stop());
      const { gateway } = tg;
      const ha = await haView(gateway.mqttUrl());
      t.after(() => ha.close());

      const expectedConfigs = NODES.length * (SOCKET_ENTITIES.length + 1) + 2; // + each socket's firmware update entity (firmware-entity.ts), + the bridge's two
      await waitFor(
        () =>
          discoveredEntities(ha.topics).length === expectedConfigs &&
          NODES.every((n) => {
            const state = JSON.parse(ha.topics.get(`canplug/socket-${n}`) ?? '{}');
            return (
              state.energy !== undefined && state.firmware !== undefined && ha.topics.get(`canplug/socket-${n}/availability`) === 'online'
            );
          }) &&
          discoveredEntities(ha.topics).every((e) => e.component !== 'switch' || (e.config.device as { sw_version?: string }).sw_version),
        // Eventually, not a speed claim: generous for a loaded machine (it ran past 8 s at load 20 under c8).
        30_000,
        `${expectedConfigs} discovery configs and complete states`,
      );

      await t.test('every config satisfies HA discovery rules', async () => {
        await waitFor(() => haProblems(ha.topics).length === 0, 3000).catch(() => assert.deepEqual(haProblems(ha.topics), []));
      });

      const entities = discoveredEntities(ha.topics);
      const bridge = entities.find((e) => e.objectId === 'connection_state')!;
      await t.test('the gateway is an HA device with a connectivity sensor on the bridge state', () => {
        assert.equal(bridge.config.state_topic, 'canplug/bridge/state');
        assert.equal(bridge.config.device_class, 'connectivity');
        assert.equal(ha.topics.get('canplug/bridge/state'), 'online');
        const version = entities.find((e) => e.objectId === 'version')!;
        assert.equal(
          JSON.parse(ha.topics.get(version.config.state_topic as string)!).version,
          (version.config.device as { sw_version: string }).sw_version,
        );
      });
      const bridgeId = (bridge.config.device as { identifiers: string[] }).identifiers[0];

      await t.test('one HA device per socket, keyed on the node, hanging off the gateway, with every entity', () => {
        for (const n of NODES) {
          const nodeId = gateway.parts.discovery!.nodeId(`can:${n}`);
          const own = entities.filter((e) => e.nodeId === nodeId);
          assert.deepEqual(own.map((e) => `${e.component}/${e.objectId}`).sort(), [...SOCKET_ENTITIES].sort(), `socket-${n}`);
          for (const { config: c, objectId, component } of own) {
            assert.deepEqual(c.device, {
              identifiers: [nodeId],
              name: `socket-${n}`,
              manufacturer: 'canplug',
              model: 'canplug ESP32 smart socket',
              model_id: 'ESP32-MCP2515',
              serial_number: `node ${n}`,
              sw_version: '1.0',
              configuration_url: `${gateway.httpUrl()}/#/devices/can%3A${n}`,
              via_device: bridgeId,
            });
            assert.equal(c.unique_id, `${nodeId}_${objectId}`);
            assert.equal(c.state_topic, component === 'event' ? `canplug/socket-${n}/event` : `canplug/socket-${n}`);
            assert.deepEqual(c.availability, [{ topic: 'canplug/bridge/state' }, { topic: `canplug/socket-${n}/availability` }]);
            assert.equal(c.availability_mode, 'all');
            assert.equal(typeof (c.origin as { sw_version: string }).sw_version, 'string');
            if (component === 'switch') assert.equal(c.command_topic, `canplug/socket-${n}/set`);
            if (UNITS[objectId]) assert.equal(c.unit_of_measurement, UNITS[objectId], objectId);
            if (['uptime', 'firmware', 'frames_lost'].includes(objectId)) assert.equal(c.entity_category, 'diagnostic', objectId);
            // Noisy diagnostics are off until a user enables them; everything else is on.
            assert.equal(c.enabled_by_default, ['uptime', 'frames_lost'].includes(objectId) ? false : undefined, objectId);
          }
          const energy = own.find((e) => e.objectId === 'energy')!.config;
          assert.equal(energy.device_class, 'energy');
          assert.equal(energy.state_class, 'total_increasing');
          assert.equal(own.find((e) => e.objectId === 'problem')!.config.device_class, 'problem');
        }
      });

      await t.test(`OFF on canplug/socket-2/set opens that socket's relay within 200 ms`, async () => {
        // Five tries (closed again over REST in between); the median holds the bar, every try stays under 1 s.
        // One slow try alone is the shared 2-core test machine, not the gateway.
        const sim = gateway.parts.sim.sockets[1];
        const times: number[] = [];
        for (let i = 0; i < 5; i++) {
          if (!sim.relay)
            assert.equal(
              (
                await gateway.parts.api.inject({
                  headers: authHeaders(gateway),
                  method: 'PUT',
                  url: '/api/devices/socket-2/relay',
                  payload: { on: true },
                })
              ).statusCode,
              200,
            );
          let openedAt: number | undefined;
          sim.onCommand = (command, at) => {
            if (command.op === 'setRelay' && command.action === 'open') openedAt ??= at;
          };
          const sentAt = performance.now();
          await ha.client.publishAsync('canplug/socket-2/set', 'OFF');
          await waitFor(() => openedAt !== undefined && !sim.relay, 2000, 'relay open');
          times.push(openedAt! - sentAt);
        }
        sim.onCommand = () => {};
        const sorted = [...times].sort((a, b) => a - b);
        t.diagnostic(`${broker}: MQTT OFF to relay open: ${times.map((ms) => ms.toFixed(1)).join(', ')} ms`);
        assert.ok(sorted[2] < 200, `median ${sorted[2]} ms`);
        assert.ok(sorted[4] < 1000, `slowest ${sorted[4]} ms`);
        assert.equal(gateway.parts.sim.sockets[0].relay, true, 'socket-1 untouched');
        await waitFor(() => JSON.parse(ha.topics.get('canplug/socket-2')!).state === 'OFF', 2000, 'HA sees OFF');
      });

      await t.test('the state HA reads through each entity equals what GET /api/devices says', async () => {
        for (const sim of gateway.parts.sim.sockets) sim.silent = true; // hold the readings still for an exact comparison
        t.after(() => {
          for (const sim of gateway.parts.sim.sockets) sim.silent = false;
        });
        await new Promise((r) => setTimeout(r, 300));
        const rest = (await gateway.parts.api.inject({ url: '/api/devices' })).json() as { name: string; state: Record<string, unknown> }[];
        for (const device of rest) {
          // Uptime rides along with what the publish policy sends; every other key is as published at once or within its deadband (readings held still here).
          const { uptime: _mqttUptime, ...mqttState } = JSON.parse(ha.topics.get(`canplug/${device.name}`)!);
          const { uptime: _restUptime, ...restState } = device.state;
          assert.deepEqual(mqttState, restState, device.name);
          for (const e of entities.filter((x) => x.config.state_topic === `canplug/${device.name}`)) {
            const key = templateKey(e.config.value_template)!;
            assert.ok(key in device.state, `${e.topic} reads "${key}", which the state lacks`);
          }
        }
      });

      await t.test(`discovery is re-sent when HA publishes online on homeassistant/status, not for offline`, async () => {
        const configTopics = discoveredEntities(ha.topics).map((e) => e.topic);
        const mark = ha.log.length;
        await ha.client.publishAsync('homeassistant/status', 'offline');
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(ha.log.slice(mark).filter((m) => m.topic.endsWith('/config')).length, 0, 'nothing re-sent for offline');
        await ha.client.publishAsync('homeassistant/status', 'online');
        await waitFor(
          () => {
            const seen = new Set(ha.log.slice(mark).map((m) => m.topic));
            return configTopics.every((topic) => seen.has(topic));
          },
          3000,
          'every config re-sent',
        );
      });
    },
  );
}
