import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { discoveredEntities, haProblems, haView } from '../helpers/ha-rules.js';
import { mosquittoTest, startMosquitto } from '../helpers/mosquitto.js';

const EXAMPLE = new URL('../../deploy/mosquitto/', import.meta.url);

test(
  'deploy/mosquitto example: the gateway and Home Assistant work through its ACL, HA cannot fake state, anonymous clients are refused',
  mosquittoTest(),
  async (t) => {
    // The example as shipped, with the listener, password file and ACL paths the harness provides.
    const replaced = /^(listener|password_file|acl_file|allow_anonymous)\b/;
    const extraLines = readFileSync(new URL('canplug.conf', EXAMPLE), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#') && !replaced.test(line));
    const mosquitto = await startMosquitto({
      users: { canplug: 'gw-pass', homeassistant: 'ha-pass' },
      aclFile: new URL('canplug.acl', EXAMPLE).pathname,
      extraLines,
    });
    t.after(() => mosquitto.close());

    const tg = await startGateway({ mqtt: { url: mosquitto.url, username: 'canplug', password: 'gw-pass' } });
    t.after(() => tg.stop());
    const ha = await haView(mosquitto.url, undefined, { username: 'homeassistant', password: 'ha-pass' });
    t.after(() => ha.close());
    await waitFor(
      () => discoveredEntities(ha.topics).length === 2 * (14 + 1) + 2 && ha.topics.get('canplug/socket-2/availability') === 'online',
      5000,
      'HA sees everything',
    );
    await waitFor(() => haProblems(ha.topics).length === 0, 3000).catch(() => assert.deepEqual(haProblems(ha.topics), []));

    // HA's birth message gets through to the gateway, and its commands too.
    const mark = ha.log.length;
    await ha.client.publishAsync('homeassistant/status', 'online');
    await waitFor(() => ha.log.slice(mark).some((m) => m.topic.endsWith('/config')), 3000, 'discovery re-sent');
    await ha.client.publishAsync('canplug/socket-2/set', 'OFF');
    await waitFor(() => !tg.gateway.parts.sim.sockets[1].relay, 2000, 'HA switched socket-2');
    const health = await (async () => {
      const at = ha.log.length;
      await ha.client.publishAsync('canplug/bridge/request/health_check', '');
      return waitFor(() => ha.log.slice(at).find((m) => m.topic === 'canplug/bridge/response/health_check'), 2000, 'health response');
    })();
    assert.equal(JSON.parse(health.payload).status, 'ok');

    // The ACL drops HA's attempts to publish as the gateway.
    tg.gateway.parts.sim.sockets[1].silent = true; // no fresh state from the gateway would hide a forged one
    await ha.client.publishAsync('canplug/bridge/state', 'offline', { retain: true, qos: 1 });
    await ha.client.publishAsync('canplug/socket-2/availability', 'offline', { retain: true, qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ha.topics.get('canplug/bridge/state'), 'online');
    assert.equal(ha.topics.get('canplug/socket-2/availability'), 'online');

    await assert.rejects(mqtt.connectAsync(mosquitto.url, { reconnectPeriod: 0, connectTimeout: 2000 }), /Not authorized|Bad username/);
  },
);
