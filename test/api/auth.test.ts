import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { rotateToken } from '../../src/api/token.js';
import { Gateway } from '../../src/daemon/gateway.js';
import { createLogger } from '../../src/log.js';
import { startGateway, testConfig, waitFor } from '../helpers/gateway.js';

const relayOff = { method: 'PUT' as const, url: '/api/devices/socket-1/relay', payload: { on: false } };

test('mutating routes need the token: 401 with one sentence without it, 200 with it', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { api } = tg.gateway.parts;
  await waitFor(() => tg.gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');

  const missing = await api.inject(relayOff);
  assert.equal(missing.statusCode, 401);
  assert.match(missing.json().error, /needs the API token: send "Authorization: Bearer <token>"/);
  assert.equal(missing.headers['www-authenticate'], 'Bearer realm="canplug"');
  assert.equal(tg.gateway.parts.sim.sockets[0].relay, true, 'nothing was switched');

  const wrong = await api.inject({ ...relayOff, headers: { authorization: 'Bearer not-the-token-at-all' } });
  assert.equal(wrong.statusCode, 401);
  assert.match(wrong.json().error, /the API token is wrong/);

  const basic = await api.inject({ ...relayOff, headers: { authorization: 'Basic dXNlcjpwYXNz' } });
  assert.equal(basic.statusCode, 401);
  assert.match(basic.json().error, /must be "Bearer <token>"/);

  // Every mutating route is guarded, not only the relay.
  for (const request of [
    { method: 'PATCH' as const, url: '/api/devices/socket-1', payload: { name: 'kitchen' } },
    { method: 'POST' as const, url: '/api/devices/socket-1/identify' },
  ]) {
    const res = await api.inject(request);
    assert.equal(res.statusCode, 401, `${request.method} ${request.url}`);
  }
  assert.ok(tg.gateway.parts.registry.find('socket-1'), 'not renamed');

  const ok = await api.inject({ ...relayOff, headers: tg.auth });
  assert.equal(ok.statusCode, 200);
  assert.equal(tg.gateway.parts.sim.sockets[0].relay, false);

  // Reads stay open by default; the dashboard's files and the docs are always public.
  for (const url of ['/api/devices', '/api/health', '/metrics', '/docs/json']) {
    assert.equal((await api.inject({ url })).statusCode, 200, url);
  }
});

test('the token file is created on first start with mode 0600, its path is logged and the token never is', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let logged = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logged += chunk.toString();
      done();
    },
  });
  const config = testConfig({ log: { level: 'debug' } }, dir);
  const gateway = new Gateway({ config, log: createLogger('debug', sink) });
  await gateway.start();
  t.after(() => gateway.stop());
  const path = join(dir, 'token');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const token = readFileSync(path, 'utf8').trim();
  assert.ok(token.length >= 32);
  assert.match(logged, /"token_file":"[^"]*token","created":true,"msg":"API token created"/);
  await gateway.parts.api.inject({ ...relayOff, headers: { authorization: `Bearer ${token}x` } });
  assert.ok(!logged.includes(token), 'the token does not appear in the log');
});

test('a rotated token is in force at once, without a restart', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  await waitFor(() => tg.gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');
  const fresh = rotateToken(tg.gateway.parts.tokens!.path);
  const old = await tg.gateway.parts.api.inject({ ...relayOff, headers: tg.auth });
  assert.equal(old.statusCode, 401);
  assert.match(old.json().error, /may have been rotated/);
  const now = await tg.gateway.parts.api.inject({ ...relayOff, headers: { authorization: `Bearer ${fresh}` } });
  assert.equal(now.statusCode, 200);
});

test('read protection guards reads and metrics too; the dashboard shell and the docs stay public', async (t) => {
  const tg = await startGateway({ http: { read_protection: true } });
  t.after(() => tg.stop());
  const { api } = tg.gateway.parts;
  for (const url of ['/api/devices', '/api/devices/socket-1/readings', '/api/config', '/api/health', '/metrics']) {
    const res = await api.inject({ url });
    assert.equal(res.statusCode, 401, url);
    assert.match(res.json().error, /needs the API token/);
    assert.equal((await api.inject({ url, headers: tg.auth })).statusCode === 401, false, `${url} with the token`);
  }
  assert.equal((await api.inject({ url: '/docs/json' })).statusCode, 200);
});

test('with http.auth off nothing asks for a token', async (t) => {
  const tg = await startGateway({ http: { auth: false } });
  t.after(() => tg.stop());
  await waitFor(() => tg.gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');
  assert.equal(tg.gateway.parts.tokens, undefined);
  const res = await tg.gateway.parts.api.inject(relayOff);
  assert.equal(res.statusCode, 200);
  const config = (await tg.gateway.parts.api.inject({ url: '/api/config' })).json();
  assert.deepEqual(config.auth, { enabled: false, read_protection: false, token_file: null });
});
