import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { silentLogger } from '../../src/log.js';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { discoveredEntities, haView } from '../helpers/ha-rules.js';
import { hasOpenssl, makeCertificates, mosquittoTest, startMosquitto } from '../helpers/mosquitto.js';

test(
  'Mosquitto with a password file: the gateway logs in with its user, HA with its own; a wrong password is a clear error',
  mosquittoTest(),
  async (t) => {
    const mosquitto = await startMosquitto({ users: { canplug: 'gw-secret', homeassistant: 'ha-secret' } });
    t.after(() => mosquitto.close());

    const wrong = new MqttConnection({
      url: mosquitto.url,
      baseTopic: 'canplug',
      username: 'canplug',
      password: 'not-it',
      instance: 'test',
      guard: true,
      log: silentLogger,
    });
    t.after(() => wrong.stop());
    await wrong.start(600);
    assert.equal(wrong.connected, false);
    assert.match(wrong.error ?? '', /Not authorized|Bad username or password/);

    const tg = await startGateway({ mqtt: { url: mosquitto.url, username: 'canplug', password: 'gw-secret' } });
    t.after(() => tg.stop());
    const ha = await haView(mosquitto.url, undefined, { username: 'homeassistant', password: 'ha-secret' });
    t.after(() => ha.close());
    await waitFor(
      () => ha.topics.get('canplug/bridge/state') === 'online' && discoveredEntities(ha.topics).length === 2 * (14 + 1) + 2,
      5000,
      'HA sees the gateway',
    );
    assert.equal(tg.gateway.health().status, 'ok');
    assert.ok(!JSON.stringify(tg.gateway.health()).includes('gw-secret'), 'health hides the password');
  },
);

test('Mosquitto over TLS with client certificates: the gateway connects with CA, cert and key; a client without a certificate is refused', {
  ...mosquittoTest(),
  ...(hasOpenssl ? {} : { skip: 'openssl is not installed' }),
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = makeCertificates(dir);
  const mosquitto = await startMosquitto({ tls: { caFile: certs.caFile, certFile: certs.serverCert, keyFile: certs.serverKey } });
  t.after(() => mosquitto.close());
  assert.match(mosquitto.url, /^mqtts:\/\//);

  const tg = await startGateway({ mqtt: { url: mosquitto.url, ca: certs.caFile, cert: certs.clientCert, key: certs.clientKey } });
  t.after(() => tg.stop());
  assert.equal((tg.gateway.health().mqtt as { connected: boolean }).connected, true);

  const tls = { ca: readFileSync(certs.caFile), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
  const ha = await haView(mosquitto.url, undefined, tls);
  t.after(() => ha.close());
  await waitFor(
    () => ha.topics.get('canplug/socket-1/availability') === 'online' && discoveredEntities(ha.topics).length === 2 * (14 + 1) + 2,
    5000,
    'HA sees the sockets over TLS',
  );
  await ha.client.publishAsync('canplug/socket-1/set', 'OFF');
  await waitFor(() => !tg.gateway.parts.sim.sockets[0].relay, 2000, 'switched over TLS');

  const noCert = mqtt.connectAsync(mosquitto.url, { ca: tls.ca, reconnectPeriod: 0, connectTimeout: 2000 });
  await assert.rejects(noCert, 'a client without a certificate must not get in');
});
