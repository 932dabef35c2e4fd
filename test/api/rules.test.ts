import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, waitFor, authHeaders } from '../helpers/gateway.js';
import { freeUdpPort, sendDatagram } from '../helpers/wifi-plug.js';

test('rules CRUD: the documented shape, positions, enable/disable, 404s', async (t) => {
  const port = await freeUdpPort();
  const tg = await startGateway({ udp: { port, host: '127.0.0.1' } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await sendDatagram(port, '1234567:Kitchen&1:1&2:118.5&3:0.9&4:2026-11-22 10:00:00');
  await waitFor(() => gateway.parts.registry.find('Kitchen') && gateway.parts.registry.find('socket-1'), 3000, 'devices known');
  const api = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
    gateway.parts.api.inject({ headers: authHeaders(gateway), method, url, payload });

  const washer = {
    name: 'washer overload',
    when: { device: 'socket-1', quantity: 'power', relation: '>', value: 2000, for_s: 2 },
    between: { from: '22:00', to: '06:00' },
    days: ['mon', 'tue'],
    then: { action: 'switch', device: 'Kitchen', state: 'off' },
  };
  const created = await api('POST', '/api/rules', washer);
  assert.equal(created.statusCode, 201, created.body);
  assert.deepEqual(created.json(), {
    id: 1,
    name: 'washer overload',
    enabled: true,
    position: 1,
    when: { device: 'socket-1', quantity: 'power', relation: '>', value: 2000, for_s: 2 },
    at: null,
    between: { from: '22:00', to: '06:00' },
    days: ['mon', 'tue'],
    then: { action: 'switch', device: 'Kitchen', state: 'off' },
    last_fired: null,
    fire_count: 0,
    problem: null,
  });

  const morning = (
    await api('POST', '/api/rules', { name: 'morning', at: '07:00', then: { action: 'switch', device: 'wifi:1234567', state: 'on' } })
  ).json();
  assert.equal(morning.position, 2);
  assert.equal(morning.then.device, 'Kitchen', 'a key is shown as the current name');
  assert.equal(morning.when, null);
  const first = (
    await api('POST', '/api/rules', {
      name: 'first',
      position: 1,
      when: { device: '1', quantity: 'state', relation: 'changes to', value: 0 },
      then: { action: 'event', message: 'socket 1 off' },
    })
  ).json();
  assert.equal(first.when.value, 'OFF', 'state values are shown as ON/OFF');
  assert.deepEqual(
    (await api('GET', '/api/rules')).json().map((r: { name: string; position: number }) => [r.position, r.name]),
    [
      [1, 'first'],
      [2, 'washer overload'],
      [3, 'morning'],
    ],
  );

  // GET, edit, PUT round trip: read-only fields are ignored; omitted enabled/position keep theirs.
  const got = (await api('GET', `/api/rules/${morning.id}`)).json();
  const moved = await api('PUT', `/api/rules/${morning.id}`, { ...got, enabled: false, position: 1, at: '07:30' });
  assert.equal(moved.statusCode, 200, moved.body);
  assert.deepEqual([moved.json().enabled, moved.json().position, moved.json().at], [false, 1, '07:30']);
  const kept = await api('PUT', `/api/rules/${morning.id}`, { name: 'morning', at: '07:30', then: { action: 'event', message: 'hi' } });
  assert.deepEqual([kept.json().enabled, kept.json().position], [false, 1]);
  assert.deepEqual(
    (await api('GET', '/api/rules')).json().map((r: { name: string }) => r.name),
    ['morning', 'first', 'washer overload'],
  );

  assert.equal((await api('DELETE', `/api/rules/${first.id}`)).statusCode, 204);
  assert.deepEqual(
    (await api('GET', '/api/rules')).json().map((r: { position: number }) => r.position),
    [1, 2],
    'positions stay dense',
  );
  for (const [method, url] of [
    ['GET', '/api/rules/99'],
    ['PUT', '/api/rules/99'],
    ['DELETE', '/api/rules/99'],
  ] as const) {
    const res = await api(method, url, method === 'PUT' ? washer : undefined);
    assert.equal(res.statusCode, 404, `${method} ${url}`);
    assert.match(res.json().error, /no rule 99/);
  }
  assert.equal((await api('GET', '/api/rules/abc')).statusCode, 400);

  // A removed device leaves the rule in place, named by its key, with the problem stated.
  gateway.parts.registry.remove(gateway.parts.registry.find('Kitchen')!, { force: true });
  const orphan = (await api('GET', `/api/rules/${created.json().id}`)).json();
  assert.equal(orphan.then.device, 'wifi:1234567');
  assert.match(orphan.problem, /device wifi:1234567 no longer exists/);

  const docs = (await api('GET', '/docs/json')).json();
  for (const p of ['/api/rules', '/api/rules/{id}']) assert.ok(Object.keys(docs.paths).includes(p), `${p} in OpenAPI`);
});

test('rules naming unknown devices or quantities, or that cannot work, are refused with a clear message', async (t) => {
  const port = await freeUdpPort();
  const tg = await startGateway({ udp: { port, host: '127.0.0.1' } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await sendDatagram(port, '1234567:Kitchen&1:1&2:118.5&3:0.9&4:2026-11-22 10:00:00');
  await waitFor(() => gateway.parts.registry.find('Kitchen') && gateway.parts.registry.find('socket-1'), 3000, 'devices known');

  const when = { device: 'socket-1', quantity: 'power', relation: '>', value: 100 };
  const then = { action: 'event', message: 'x' };
  const cases: [string, object, RegExp][] = [
    [
      'unknown device',
      { name: 'r', when: { ...when, device: 'washer' }, then },
      /^when\.device: no device "washer" \(use a name, a node id or a key/,
    ],
    [
      'unknown target',
      { name: 'r', when, then: { action: 'switch', device: 'heater', state: 'off' } },
      /^then\.device: no device "heater"/,
    ],
    ['unknown quantity', { name: 'r', when: { ...when, quantity: 'wattage' }, then }, /^body\.when\.quantity: must be .*"power".*"state"/],
    [
      'quantity the device lacks',
      { name: 'r', when: { ...when, device: 'Kitchen', quantity: 'humidity' }, then },
      /^when\.quantity: Kitchen \(a Wi-Fi plug\) reports power, state; not humidity/,
    ],
    ['unknown relation', { name: 'r', when: { ...when, relation: '=>' }, then }, /^body\.when\.relation: must be .*">="/],
    ['word for a number', { name: 'r', when: { ...when, value: 'ON' }, then }, /^when\.value: power is compared with a number, not "ON"/],
    [
      'state compared by size',
      { name: 'r', when: { ...when, quantity: 'state', value: 'ON' }, then },
      /^when\.relation: state is compared with =, != or "changes to"/,
    ],
    [
      'state value',
      { name: 'r', when: { ...when, quantity: 'state', relation: '=', value: 2 }, then },
      /^when\.value: state is "ON" or "OFF"/,
    ],
    ['neither when nor at', { name: 'r', then }, /needs "when" \(a condition\) or "at"/],
    ['both when and at', { name: 'r', when, at: '07:00', then }, /"when" or "at", not both/],
    ['bad time', { name: 'r', at: '25:00', then }, /^body\.at: must be .*/],
    ['schedule with window', { name: 'r', at: '07:00', between: { from: '08:00', to: '09:00' }, then }, /^between: a schedule/],
    ['empty window', { name: 'r', when, between: { from: '08:00', to: '08:00' }, then }, /^between: "from" and "to" are the same time/],
    ['bad day', { name: 'r', when, days: ['monday'], then }, /^body\.days\.0: must be .*"mon"/],
    [
      'unknown action',
      { name: 'r', when, then: { action: 'explode' } },
      /^body\.then\.action: must be one of "switch", "publish", "event"/,
    ],
    ['switch without state', { name: 'r', when, then: { action: 'switch', device: 'Kitchen' } }, /^body\.then\.state/],
    [
      'publish to a set topic',
      { name: 'r', when, then: { action: 'publish', topic: 'canplug/Kitchen/set', payload: 'ON' } },
      /^then\.topic: topics under "canplug\/" belong to the gateway/,
    ],
    [
      'publish with a wildcard',
      { name: 'r', when, then: { action: 'publish', topic: 'home/#', payload: 'x' } },
      /^then\.topic: a topic to publish to cannot contain \+, # or NUL/,
    ],
    ['misspelt field', { name: 'r', when, then, condition: {} }, /^body\.condition: unknown field; allowed here: name, enabled/],
    ['no name', { when, then }, /^body\.name/],
    ['negative duration', { name: 'r', when: { ...when, for_s: -1 }, then }, /^body\.when\.for_s: /],
  ];
  for (const [what, body, message] of cases) {
    const res = await gateway.parts.api.inject({ headers: authHeaders(gateway), method: 'POST', url: '/api/rules', payload: body });
    assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
    assert.match(res.json().error, message, what);
  }
  assert.deepEqual((await gateway.parts.api.inject({ url: '/api/rules' })).json(), [], 'nothing was stored');
  const put = await gateway.parts.api.inject({
    headers: authHeaders(gateway),
    method: 'PUT',
    url: '/api/rules/1',
    payload: { name: 'r', when, then, id: 2 },
  });
  assert.equal(put.statusCode, 400);
});
