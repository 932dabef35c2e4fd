// Secrets (the MQTT password, the API token) never leave the gateway: not in its log at any level, not
// in /api/health, /api/config, /metrics, /docs, the MQTT bridge info and responses, or any error
// message. And the credentials are honoured: the embedded broker asks for them when they are set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { parseConfig, ConfigError, exposureWarnings, isLoopback } from '../../src/config/config.js';
import { startEmbeddedBroker } from '../../src/mqtt/embedded-broker.js';
import { memoryLogger, recordingClient, startGateway, waitFor } from '../helpers/gateway.js';
import { runCli } from '../helpers/cli.js';
import { recordFigure } from '../helpers/figures.js';

const PASSWORD = 'pw-Zq8vN3kLx2';

/** Everything a client can read from a gateway, plus answers to bad requests. */
async function everythingReadable(base: { inject: (o: object) => Promise<{ body: string }> }, token: string): Promise<string[]> {
  const bodies: string[] = [];
  for (const url of [
    '/api/health',
    '/api/config',
    '/metrics',
    '/docs/json',
    '/api/devices',
    '/api/events?limit=500',
    '/api/devices/socket-1',
  ]) {
    bodies.push((await base.inject({ url, headers: { authorization: `Bearer ${token}` } })).body);
  }
  // Errors: wrong token, unknown route, bad body, bad query, bad id.
  const bad = [
    { method: 'PUT', url: '/api/devices/socket-1/relay', payload: { on: true }, headers: { authorization: `Bearer ${token}x` } },
    { method: 'PUT', url: '/api/devices/socket-1/relay', payload: { on: 'yes' }, headers: { authorization: `Bearer ${token}` } },
    {
      method: 'PUT',
      url: '/api/devices/socket-1/relay',
      payload: '{',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    },
    { url: `/api/nope?token=${token}` },
    { url: '/api/devices/socket-1/readings?from=yesterday' },
    { method: 'PATCH', url: '/api/devices/socket-1', payload: { name: '../../etc' }, headers: { authorization: `Bearer ${token}` } },
  ];
  for (const request of bad) bodies.push((await base.inject(request)).body);
  return bodies;
}

test('the MQTT password and the API token appear nowhere a client or the log can see them', async (t) => {
  const { log, lines } = memoryLogger('trace');
  const tg = await startGateway({ mqtt: { username: 'canplug', password: PASSWORD }, log: { level: 'trace' } }, undefined, log);
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-1')?.available, 4000, 'socket-1 online');
  const url = gateway.mqttUrl().replace('mqtt://', `mqtt://canplug:${PASSWORD}@`);
  const ha = await recordingClient(url, ['canplug/#']);
  t.after(() => ha.client.endAsync());
  await ha.client.publishAsync('canplug/bridge/request/health_check', '{"transaction":1}');
  await ha.client.publishAsync('canplug/bridge/request/device/rename', `{"from":"socket-9","to":"${PASSWORD}"}`);
  await ha.client.publishAsync('canplug/socket-1/set', 'MAYBE');
  await waitFor(
    () => ha.messages.has('canplug/bridge/response/health_check') && ha.messages.has('canplug/bridge/info'),
    3000,
    'bridge answers',
  );

  const seen = [...(await everythingReadable(gateway.parts.api, tg.token)), ...ha.log.map((m) => `${m.topic} ${m.payload}`)];
  const logText = lines()
    .map((l) => JSON.stringify(l))
    .join('\n');
  assert.ok(lines().length > 10, `the log was captured at trace level (${lines().length} lines)`);
  assert.ok(
    lines().some((l) => l.level === 10 || l.level === 20 || l.msg === 'canplug ready'),
    'including the start-up lines',
  );
  let cases = 0;
  for (const [what, text] of [...seen.map((s, i) => [`reply ${i}`, s] as const), ['log', logText] as const]) {
    cases++;
    assert.ok(!text.includes(tg.token), `${what} holds the API token`);
    // The rename above put the password into a request on purpose: only its refusal may quote it back to that client.
    if (!text.startsWith('canplug/bridge/response/device/rename') && !text.startsWith('canplug/bridge/request/'))
      assert.ok(!text.includes(PASSWORD), `${what} holds the MQTT password: ${text.slice(0, 300)}`);
  }
  const config = (await gateway.parts.api.inject({ url: '/api/config' })).json();
  assert.equal(config.config.mqtt.password, '***');
  recordFigure({ kind: 'security', name: 'secrets absent from log, health, config, metrics, docs, bridge, errors', cases });
});

test('a broker URL with a password is shown without it; a config error never repeats a password', async (t) => {
  const broker = await startEmbeddedBroker('127.0.0.1', 0, { username: 'canplug', password: PASSWORD });
  t.after(() => broker.close());
  const { log, lines } = memoryLogger('trace');
  const tg = await startGateway(
    { mqtt: { url: `mqtt://canplug:${PASSWORD}@127.0.0.1:${broker.port}` }, log: { level: 'trace' } },
    undefined,
    log,
  );
  t.after(() => tg.stop());
  await waitFor(() => tg.gateway.parts.mqtt.connected, 3000, 'connected with the password in the URL');
  const health = (await tg.gateway.parts.api.inject({ url: '/api/health' })).json();
  assert.equal(health.mqtt.url, `mqtt://canplug:***@127.0.0.1:${broker.port}`);
  for (const text of [...(await everythingReadable(tg.gateway.parts.api, tg.token)), JSON.stringify(lines())])
    assert.ok(!text.includes(PASSWORD), text.slice(0, 300));

  // A password of the wrong type (YAML reads 12345678 as a number) or from the environment.
  for (const raw of [
    { mqtt: { password: 12345678 } },
    { mqtt: { password: ['hunter2-list'] } },
    { mqtt: { password: { secret: 'hunter2' } } },
  ]) {
    assert.throws(
      () => parseConfig(raw),
      (error: Error) =>
        error instanceof ConfigError &&
        !/12345678|hunter2/.test(error.message) &&
        /mqtt\.password: the value given is not allowed; expected a string/.test(error.message),
    );
  }
  const cli = await runCli(['config', 'check', '/dev/null'], { env: { CANPLUG_MQTT_URL: `mqtt://u:${PASSWORD}@broker.lan:1883` } });
  assert.equal(cli.code, 0, cli.stderr);
  assert.ok(!`${cli.stdout}${cli.stderr}`.includes(PASSWORD), cli.stdout);
});

test('the embedded broker honours mqtt.username/password: anonymous and wrong logins are refused, the gateway gets in', async (t) => {
  const tg = await startGateway({ mqtt: { username: 'canplug', password: PASSWORD } });
  t.after(() => tg.stop());
  assert.equal(tg.gateway.parts.mqtt.connected, true, 'the gateway logged in with the configured credentials');
  const attempt = (options: mqtt.IClientOptions) =>
    mqtt.connectAsync(tg.gateway.mqttUrl(), { ...options, reconnectPeriod: 0, connectTimeout: 3000 }).then(
      async (client) => {
        await client.endAsync();
        return 'accepted';
      },
      (error: Error) => error.message,
    );
  assert.match(await attempt({}), /Bad username or password|Not authorized/);
  assert.match(await attempt({ username: 'canplug', password: `${PASSWORD}x` }), /Bad username or password/);
  assert.match(await attempt({ username: 'admin', password: PASSWORD }), /Bad username or password/);
  assert.equal(await attempt({ username: 'canplug', password: PASSWORD }), 'accepted');
  recordFigure({ kind: 'security', name: 'embedded broker credentials', cases: 4 });
});

test('the HTTP server and the embedded broker bind to 127.0.0.1 by default; exposing them without a lock is warned about', async (t) => {
  const defaults = parseConfig({});
  assert.equal(defaults.http.host, '127.0.0.1');
  assert.equal(defaults.mqtt.embedded_host, '127.0.0.1');
  assert.equal(defaults.http.auth, true);
  assert.deepEqual(exposureWarnings(defaults), []);
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.equal(isLoopback(host), true, host);
  for (const host of ['0.0.0.0', '::', '192.168.1.20', 'canplug.local']) assert.equal(isLoopback(host), false, host);

  const open = parseConfig({ http: { host: '0.0.0.0', auth: false }, mqtt: { embedded_host: '::' } });
  const warnings = exposureWarnings(open);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /http\.host is 0\.0\.0\.0 and http\.auth is off: anyone on the network can switch sockets/);
  assert.match(warnings[1], /embedded MQTT broker listens on :: without credentials.*set mqtt\.username and mqtt\.password/);
  assert.deepEqual(
    exposureWarnings(parseConfig({ http: { host: '0.0.0.0' }, mqtt: { embedded_host: '0.0.0.0', password: PASSWORD } })),
    [],
    'with the token and a broker password nothing is unlocked',
  );
  assert.deepEqual(
    exposureWarnings(parseConfig({ mqtt: { url: 'mqtt://broker.lan', embedded_host: '0.0.0.0' } })),
    [],
    'no embedded broker, no warning about it',
  );

  // `canplug config check` says the same without starting anything.
  const cli = await runCli(['config', 'check', '/dev/null'], {
    env: { CANPLUG_HTTP_HOST: '0.0.0.0', CANPLUG_HTTP_AUTH: 'false', CANPLUG_MQTT_EMBEDDED_HOST: '0.0.0.0' },
  });
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stderr, /warning: http\.host is 0\.0\.0\.0 and http\.auth is off/);
  assert.match(cli.stderr, /warning: the embedded MQTT broker listens on 0\.0\.0\.0 without credentials/);

  // A gateway on the defaults listens on loopback only and warns about nothing.
  const { log, lines } = memoryLogger('warn');
  const tg = await startGateway({}, undefined, log);
  t.after(() => tg.stop());
  assert.equal((tg.gateway.parts.api.server.address() as { address: string }).address, '127.0.0.1');
  assert.match(tg.gateway.mqttUrl(), /^mqtt:\/\/127\.0\.0\.1:/);
  assert.deepEqual(
    lines().filter((l) => /anyone on the network/.test(String(l.msg))),
    [],
  );
  recordFigure({ kind: 'security', name: 'default binds and exposure warnings', cases: 14 });
});
