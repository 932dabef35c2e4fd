// Input the schemas cannot describe: bodies nested thousands of levels deep (they overflowed the
// stack of the error messages: 500), and numbers in paths and query strings that are not plain
// decimals (TypeBox's conversion read "1e1" as 1, so DELETE /api/rules/1e1 deleted rule 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { registeredRoutes } from '../helpers/routes.js';

const arrays = (n: number) => '['.repeat(n) + ']'.repeat(n);
const objects = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const THEN = '"then":{"action":"event","message":"x"}';

test('a body nested thousands of levels deep is a 400 on every route that takes a body, never a 500', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { api } = tg.gateway.parts;
  await waitFor(() => tg.gateway.parts.registry.find('socket-1'), 3000, 'socket-1 known');
  const rule = await api.inject({
    method: 'POST',
    url: '/api/rules',
    headers: tg.auth,
    payload: { name: 'r', at: '07:00', then: { action: 'event', message: 'x' } },
  });
  assert.equal(rule.statusCode, 201, rule.body);
  const deep = [
    `{"name":"x",${THEN},"days":${arrays(30_000)}}`,
    `{"name":"x",${THEN},"when":${objects(10_000)}}`,
    `{"name":"x",${THEN},"between":${objects(10_000)}}`,
    `{"name":"x","then":${objects(10_000)}}`,
    `{"name":"x",${THEN},"when":{"device":"socket-1","quantity":"power","relation":">","value":${arrays(30_000)}}}`,
    `{"name":"x",${THEN},"last_fired":${arrays(30_000)}}`,
    objects(10_000),
    arrays(30_000),
    `{"on":${arrays(100)}}`,
  ];
  const mutating = registeredRoutes(api.printRoutes({ commonPrefix: false }))
    .filter((r) => /^(POST|PUT|PATCH) /.test(r))
    .map((r) => r.replace('{id}', r.includes('rules') ? String(rule.json().id) : 'socket-1'));
  assert.ok(mutating.length >= 6, mutating.join(', '));
  for (const route of mutating) {
    const [method, url] = route.split(' ') as ['POST' | 'PUT' | 'PATCH', string];
    for (const payload of deep) {
      const res = await api.inject({ method, url, headers: { ...tg.auth, 'content-type': 'application/json' }, payload });
      assert.equal(res.statusCode, 400, `${route} ${payload.slice(0, 40)}: ${res.body}`);
      assert.equal(res.json().error, 'the body is nested deeper than 32 levels');
    }
  }
  assert.equal(tg.gateway.parts.rules.list().length, 1, 'nothing was created');
  // Ordinary bodies are still read as before.
  const ok = await api.inject({
    method: 'PUT',
    url: `/api/rules/${rule.json().id}`,
    headers: tg.auth,
    payload: { name: 'renamed', at: '08:00', then: { action: 'event', message: 'y' } },
  });
  assert.equal(ok.statusCode, 200, ok.body);
});

test('integers in paths and query strings must be written as integers', async (t) => {
  const tg = await startGateway();
  t.after(() => tg.stop());
  const { api } = tg.gateway.parts;
  await waitFor(() => tg.gateway.parts.registry.find('socket-1')?.available, 3000, 'socket-1 online');
  for (let i = 0; i < 10; i++) {
    const res = await api.inject({
      method: 'POST',
      url: '/api/rules',
      headers: tg.auth,
      payload: { name: `r${i}`, at: '07:00', then: { action: 'event', message: 'x' } },
    });
    assert.equal(res.statusCode, 201);
  }
  for (const id of ['1e1', '1.0', '1.5', '0x1', '+1', '1_0', ' 1', '1 ', 'Infinity', '99999999999999999999']) {
    for (const method of ['GET', 'DELETE'] as const) {
      const res = await api.inject({ method, url: `/api/rules/${encodeURIComponent(id)}`, headers: tg.auth });
      assert.equal(res.statusCode, 400, `${method} /api/rules/${id}: ${res.body}`);
      assert.match(res.json().error, /^params\.id: /);
    }
  }
  assert.equal(tg.gateway.parts.rules.list().length, 10, 'no rule deleted');
  assert.equal((await api.inject({ method: 'DELETE', url: '/api/rules/10', headers: tg.auth })).statusCode, 204);

  for (const seconds of ['2.5e3', '2.5', '1e1', '0x10', '']) {
    const res = await api.inject({
      method: 'POST',
      url: `/api/devices/socket-1/identify?seconds=${encodeURIComponent(seconds)}`,
      headers: tg.auth,
    });
    assert.equal(res.statusCode, 400, `seconds=${seconds}: ${res.body}`);
    assert.match(res.json().error, /^querystring\.seconds: expected integer; got "/);
  }
  const identify = await api.inject({ method: 'POST', url: '/api/devices/socket-1/identify?seconds=3', headers: tg.auth });
  assert.equal(identify.statusCode, 200, identify.body);
  assert.equal(identify.json().seconds, 3);
  for (const limit of ['1e2', '5.0', '0x10']) {
    assert.equal((await api.inject({ url: `/api/events?limit=${limit}` })).statusCode, 400, `limit=${limit}`);
  }
  assert.equal((await api.inject({ url: '/api/events?limit=5' })).statusCode, 200);
});
