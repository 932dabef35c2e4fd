// Every mutating route, read off Fastify's own route tree, and the live stream: refused without the
// right token in every way a client might get it wrong, and nothing changes behind a refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { generateToken } from '../../src/api/token.js';
import { tokensEqual } from '../../src/tokens-equal.js';
import { LIVE_PROTOCOL } from '../../src/contracts/live.js';
import fc from 'fast-check';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { registeredRoutes } from '../helpers/routes.js';
import { recordFigure } from '../helpers/figures.js';

const MUTATING = /^(POST|PUT|PATCH|DELETE) /;

/** A request for a route from the tree: parameters filled with a real device (or rule) id, a plausible body. */
function requestFor(route: string): { method: 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'GET'; url: string; payload?: object } {
  const [method, path] = route.split(' ') as ['POST' | 'PUT' | 'PATCH' | 'DELETE' | 'GET', string];
  const url = path.replace(/\{(\w+)\}/g, path.startsWith('/api/rules') ? '1' : 'socket-1');
  const payload = method === 'GET' || method === 'DELETE' ? undefined : url.endsWith('/relay') ? { on: false } : {};
  return { method, url, payload };
}

/** What an attacker might send instead of the token. */
function wrongCredentials(token: string): { name: string; headers: Record<string, string>; query?: string }[] {
  const sameLength = generateToken();
  return [
    { name: 'no header', headers: {} },
    { name: 'wrong token, same length', headers: { authorization: `Bearer ${sameLength}` } },
    { name: 'the token minus its last character', headers: { authorization: `Bearer ${token.slice(0, -1)}` } },
    { name: 'the token plus one character', headers: { authorization: `Bearer ${token}x` } },
    {
      name: 'the token in another case',
      headers: { authorization: `Bearer ${token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase()}` },
    },
    { name: 'empty bearer', headers: { authorization: 'Bearer ' } },
    { name: 'basic auth', headers: { authorization: `Basic ${Buffer.from(`canplug:${token}`).toString('base64')}` } },
    {
      name: 'the token in the query string (only the live stream takes it there)',
      headers: {},
      query: `token=${encodeURIComponent(token)}`,
    },
    { name: 'the token as a cookie', headers: { cookie: `token=${token}` } },
  ];
}

async function sideEffects(tg: TestGateway): Promise<unknown> {
  const { gateway } = tg;
  const devices = gateway.parts.registry
    .list()
    .map((d) => `${d.key}=${d.name}:${JSON.stringify(d.settings)}`)
    .sort();
  const rules = (await gateway.parts.api.inject({ url: '/api/rules' })).json();
  const relays = gateway.parts.sim.sockets.map((s) => s.relay);
  return { devices, rules, relays };
}

test('every mutating route from the route tree refuses every wrong credential with 401, and nothing changes', async (t) => {
  const tg = await startGateway({ http: { rate_limit: 0 } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => gateway.parts.registry.find('socket-1')?.available, 4000, 'socket-1 online');
  const routes = registeredRoutes(gateway.parts.api.printRoutes({ commonPrefix: false })).filter((r) => MUTATING.test(r));
  assert.ok(routes.length >= 8, `mutating routes found: ${routes.join(', ')}`);
  let cases = 0;
  for (const route of routes) {
    const request = requestFor(route);
    for (const wrong of wrongCredentials(tg.token)) {
      const res = await gateway.parts.api.inject({
        ...request,
        url: wrong.query ? `${request.url}?${wrong.query}` : request.url,
        headers: wrong.headers,
      });
      cases++;
      assert.equal(res.statusCode, 401, `${route} with ${wrong.name}: ${res.statusCode} ${res.body}`);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="canplug"');
      assert.doesNotMatch(res.body, new RegExp(tg.token), 'the token is never echoed');
    }
    // With the token the same request gets past the lock (whatever the route then says about it).
    const ok = await gateway.parts.api.inject({ ...request, headers: tg.auth });
    assert.notEqual(ok.statusCode, 401, `${route} with the token`);
  }
  // The requests with the token above did change things; the refusals alone, on a fresh gateway, change nothing.
  const fresh = await startGateway({ http: { rate_limit: 0 } });
  t.after(() => fresh.stop());
  await waitFor(() => fresh.gateway.parts.registry.find('socket-1')?.available, 4000, 'socket-1 online');
  const freshBefore = await sideEffects(fresh);
  for (const route of routes) {
    for (const wrong of wrongCredentials(fresh.token)) {
      const request = requestFor(route);
      await fresh.gateway.parts.api.inject({
        ...request,
        url: wrong.query ? `${request.url}?${wrong.query}` : request.url,
        headers: wrong.headers,
      });
      cases++;
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await sideEffects(fresh), freshBefore, 'nothing changed behind the refusals');
  const events = (await fresh.gateway.parts.api.inject({ url: '/api/events?limit=200' })).json().events as { type: string }[];
  assert.deepEqual(
    events.filter((e) => ['relay', 'limit', 'reset', 'rule'].includes(e.type)),
    [],
    'no relay, limit, reset or rule event',
  );
  t.diagnostic(`${routes.length} mutating routes: ${routes.join(', ')}`);
  recordFigure({ kind: 'security', name: `auth on ${routes.length} mutating routes (from the route tree)`, cases });
});

test('with read protection every GET under /api and /metrics needs the token too', async (t) => {
  const tg = await startGateway({ http: { read_protection: true, rate_limit: 0 } });
  t.after(() => tg.stop());
  const reads = registeredRoutes(tg.gateway.parts.api.printRoutes({ commonPrefix: false })).filter(
    (r) => /^GET \/(api\/|metrics)/.test(r) && r !== 'GET /api/live',
  );
  assert.ok(reads.length >= 8, reads.join(', '));
  let cases = 0;
  for (const route of reads) {
    const { url } = requestFor(route);
    for (const wrong of wrongCredentials(tg.token)) {
      const res = await tg.gateway.parts.api.inject({ url: wrong.query ? `${url}?${wrong.query}` : url, headers: wrong.headers });
      cases++;
      assert.equal(res.statusCode, 401, `${route} with ${wrong.name}`);
    }
    assert.notEqual((await tg.gateway.parts.api.inject({ url, headers: tg.auth })).statusCode, 401, `${route} with the token`);
  }
  recordFigure({ kind: 'security', name: `read protection on ${reads.length} GET routes`, cases });
});

test('the live stream closes on a wrong token (in the header, the subprotocol or the query) and, under read protection, a missing one', async (t) => {
  const tg = await startGateway({ http: { read_protection: true } });
  t.after(() => tg.stop());
  const base = tg.gateway.httpUrl().replace('http', 'ws');
  const attempt = (path: string, protocols: string[] = [LIVE_PROTOCOL], headers: Record<string, string> = {}) =>
    new Promise<{ code: number; first?: { type: string } }>((resolve, reject) => {
      const ws = new WebSocket(`${base}${path}`, protocols, { headers });
      let first: { type: string } | undefined;
      ws.on('message', (data) => {
        first ??= JSON.parse(data.toString()) as { type: string };
        if (first.type === 'snapshot') ws.close(1000);
      });
      ws.on('close', (code) => resolve({ code, first }));
      ws.on('error', reject);
    });
  const wrong = generateToken();
  const refusals = [
    await attempt('/api/live'),
    await attempt('/api/live', [LIVE_PROTOCOL, `bearer.${wrong}`]),
    await attempt(`/api/live?token=${wrong}`),
    await attempt('/api/live', [LIVE_PROTOCOL], { authorization: `Bearer ${wrong}` }),
    await attempt('/api/live', [LIVE_PROTOCOL, `bearer.${tg.token.slice(0, -1)}`]),
  ];
  for (const r of refusals) {
    assert.equal(r.code, 4401);
    assert.equal(r.first?.type, 'error');
  }
  for (const ok of [await attempt('/api/live', [LIVE_PROTOCOL, `bearer.${tg.token}`]), await attempt(`/api/live?token=${tg.token}`)]) {
    assert.equal(ok.first?.type, 'snapshot');
  }
  // Without read protection a missing token reads (as GET /api/devices does), a wrong one is still refused.
  const open = await startGateway();
  t.after(() => open.stop());
  const openBase = open.gateway.httpUrl().replace('http', 'ws');
  const first = (path: string, protocols: string[]) =>
    new Promise<{ type: string; access?: string }>((resolve, reject) => {
      const ws = new WebSocket(`${openBase}${path}`, protocols);
      ws.on('message', (data) => {
        resolve(JSON.parse(data.toString()) as { type: string; access?: string });
        ws.close(1000);
      });
      ws.on('error', reject);
    });
  assert.deepEqual(await first('/api/live', [LIVE_PROTOCOL]).then((m) => [m.type, m.access]), ['snapshot', 'read']);
  assert.equal((await first('/api/live', [LIVE_PROTOCOL, `bearer.${wrong}`])).type, 'error');
  recordFigure({ kind: 'security', name: 'live stream auth (header, subprotocol, query)', cases: refusals.length + 2 });
});

test('tokens are compared in constant time: equal exactly when the strings are, whatever their lengths (property)', () => {
  const RUNS = 2000;
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), (a, b) => tokensEqual(a, b) === (a === b)),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (a) => tokensEqual(a, a)),
    { numRuns: 200 },
  );
  recordFigure({ kind: 'security', name: 'token comparison (sha-256 + timingSafeEqual)', cases: RUNS + 200 });
});
