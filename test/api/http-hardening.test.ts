import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { registeredRoutes } from '../helpers/routes.js';
import { rawGet } from '../helpers/http.js';

/** A real HTTP request with the path sent byte for byte (fetch and inject would normalize ../). */

function dashboardDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-dash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const site = join(dir, 'site');
  mkdirSync(join(site, 'assets'), { recursive: true });
  writeFileSync(join(site, 'index.html'), '<!doctype html><title>canplug</title>');
  writeFileSync(join(site, 'assets', 'app-1234.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'outside the dashboard');
  return site;
}

test('the dashboard is served at / with security headers, and no path leaves its directory', async (t) => {
  const site = dashboardDir(t);
  const tg = await startGateway({ http: { dashboard_dir: site } });
  t.after(() => tg.stop());
  const base = tg.gateway.httpUrl();

  const index = await fetch(`${base}/`);
  assert.equal(index.status, 200);
  assert.match(await index.text(), /<title>canplug<\/title>/);
  assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(index.headers.get('x-frame-options'), 'SAMEORIGIN');
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  assert.equal(index.headers.get('strict-transport-security'), null, 'no HSTS: the gateway is reached over plain HTTP on the LAN');
  assert.doesNotMatch(index.headers.get('content-security-policy') ?? '', /upgrade-insecure-requests/);
  const asset = await fetch(`${base}/assets/app-1234.js`);
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('cache-control') ?? '', /immutable/);

  for (const path of [
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/..%5csecret.txt',
    '/%2e%2e%2f%2e%2e%2fpackage.json',
  ]) {
    const res = await rawGet(base, path);
    assert.ok(res.status === 404 || res.status === 403 || res.status === 400, `${path}: ${res.status}`);
    assert.doesNotMatch(res.body, /outside the dashboard|"name": "canplug"/, path);
  }
});

test('without a built dashboard / says how to build it', async (t) => {
  const tg = await startGateway({ http: { dashboard_dir: join(tmpdir(), 'canplug-no-such-dashboard') } });
  t.after(() => tg.stop());
  const res = await tg.gateway.parts.api.inject({ url: '/' });
  assert.equal(res.statusCode, 503);
  assert.match(res.body, /npm run build:dashboard/);
});

test('CORS is off by default and allows only the configured origins when on', async (t) => {
  const preflight = {
    method: 'OPTIONS' as const,
    url: '/api/devices/socket-1/relay',
    headers: { origin: 'http://ha.local:8123', 'access-control-request-method': 'PUT' },
  };
  const off = await startGateway();
  t.after(() => off.stop());
  const closed = await off.gateway.parts.api.inject(preflight);
  assert.equal(closed.headers['access-control-allow-origin'], undefined);
  const get = await off.gateway.parts.api.inject({ url: '/api/devices', headers: { origin: 'http://ha.local:8123' } });
  assert.equal(get.headers['access-control-allow-origin'], undefined);

  const on = await startGateway({ http: { cors_origins: ['http://ha.local:8123'] } });
  t.after(() => on.stop());
  const allowed = await on.gateway.parts.api.inject(preflight);
  assert.equal(allowed.headers['access-control-allow-origin'], 'http://ha.local:8123');
  const other = await on.gateway.parts.api.inject({ ...preflight, headers: { ...preflight.headers, origin: 'http://evil.example' } });
  assert.notEqual(other.headers['access-control-allow-origin'], 'http://evil.example');
});

test('bodies over the limit, non-JSON bodies and floods of changes are refused in one sentence', async (t) => {
  const tg = await startGateway({ http: { rate_limit: 5 } });
  t.after(() => tg.stop());
  const { api } = tg.gateway.parts;
  await waitFor(() => tg.gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');

  const big = await api.inject({
    method: 'PATCH',
    url: '/api/devices/socket-1',
    headers: { ...tg.auth, 'content-type': 'application/json' },
    payload: JSON.stringify({ name: 'x'.repeat(100_000) }),
  });
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().error, 'the request body is larger than the 64 KiB this API accepts');

  const text = await api.inject({
    method: 'PUT',
    url: '/api/devices/socket-1/relay',
    headers: { ...tg.auth, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'on=1',
  });
  assert.equal(text.statusCode, 415);
  assert.match(text.json().error, /must be JSON/);

  // Two requests above are already counted; three more fill the minute's five.
  for (let i = 0; i < 3; i++) {
    const res = await api.inject({ method: 'PUT', url: '/api/devices/socket-1/relay', headers: tg.auth, payload: { on: i % 2 === 0 } });
    assert.equal(res.statusCode, 200);
  }
  const limited = await api.inject({ method: 'PUT', url: '/api/devices/socket-1/relay', headers: tg.auth, payload: { on: true } });
  assert.equal(limited.statusCode, 429);
  assert.match(
    limited.json().error,
    /^too many changes or failed logins from this address: at most 5 per minute; try again in \d+ (seconds?|minute)$/,
  );
  // Reads are not limited.
  for (let i = 0; i < 10; i++) assert.equal((await api.inject({ url: '/api/devices' })).statusCode, 200);
  // Without the token: still counted, so guessing tokens is limited as well.
  assert.equal((await api.inject({ method: 'PUT', url: '/api/devices/socket-1/relay', payload: { on: true } })).statusCode, 429);
});

test('/docs lists every route of the API', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const openapi = (await tg.gateway.parts.api.inject({ url: '/docs/json' })).json();
  const paths = Object.keys(openapi.paths);
  assert.deepEqual(
    openapi.paths['/api/devices/{id}/relay'].put.security,
    [{ bearer: [] }],
    'mutating routes are marked as needing the token',
  );
  assert.equal(openapi.paths['/api/devices'].get.security, undefined, 'reads are open by default');
  for (const p of [
    '/api/health',
    '/api/config',
    '/api/devices',
    '/api/devices/{id}',
    '/api/devices/{id}/relay',
    '/api/devices/{id}/identify',
    '/api/devices/{id}/readings',
    '/api/devices/{id}/energy',
    '/api/live',
    '/metrics',
  ]) {
    assert.ok(paths.includes(p), `${p} in OpenAPI`);
  }
  // Not only the ones named above: every route under /api and /metrics, with its methods.
  const documented = Object.entries(openapi.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
  );
  const api = registeredRoutes(tg.gateway.parts.api.printRoutes({ commonPrefix: false })).filter((r) =>
    /^(GET|POST|PUT|PATCH|DELETE) \/(api\/|metrics)/.test(r),
  );
  assert.ok(api.length >= 11, api.join(', '));
  for (const route of api) assert.ok(documented.includes(route), `${route} in OpenAPI`);
  const docs = await tg.gateway.parts.api.inject({ url: '/docs/' });
  assert.equal(docs.statusCode, 200);
  assert.match(docs.body, /swagger/i);
});
