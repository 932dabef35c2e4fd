// POST/GET /api/devices/:id/firmware without a socket that speaks the transfer: every refusal says
// what is wrong, with its status code; a socket that does not answer firmware requests fails the
// update with the reason and the relay guard lets go again. (The VM node tests do the real updates.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBundle, writeBundleFile } from '../../src/gateway/firmware-bundle.js';
import { FIRMWARE, newKey } from '../helpers/firmware-bundles.js';
import { startGateway, waitFor } from '../helpers/gateway.js';

test('firmware route: refusals with their status codes, and a socket that does not answer fails the update', {
  timeout: 60_000,
}, async (t) => {
  const tg = await startGateway({ can: { sim: { nodes: [1] } }, firmware: { answer_timeout_ms: 500 } });
  t.after(() => tg.stop());
  const api = tg.gateway.parts.api;
  const post = (id: string, payload: unknown = {}) =>
    api.inject({ method: 'POST', url: `/api/devices/${id}/firmware`, headers: tg.auth, payload: payload as object });
  await waitFor(() => tg.gateway.parts.registry.find('socket-1')?.available, 5000, 'socket-1 online');

  assert.equal(
    (await api.inject({ method: 'POST', url: '/api/devices/socket-1/firmware', payload: {} })).statusCode,
    401,
    'the token is needed',
  );
  const unknown = await post('socket-9');
  assert.equal(unknown.statusCode, 404);
  const nothing = await post('socket-1');
  assert.equal(nothing.statusCode, 503);
  assert.match(nothing.json().error, /no firmware bundle at .*firmware-bundle\.json: make one with "canplug firmware build"/);
  const key = newKey();
  writeBundleFile(join(tg.dir, 'firmware-bundle.json'), buildBundle(FIRMWARE, key));
  const noKey = await post('socket-1');
  assert.equal(noKey.statusCode, 503);
  assert.match(noKey.json().error, /no firmware signing key at .*firmware-key\.pem: "canplug firmware build" makes one/);
  writeFileSync(join(tg.dir, 'firmware-key.pem'), key.export({ format: 'pem', type: 'pkcs8' }));

  const foreign = await post('socket-1', { bundle: buildBundle(FIRMWARE, newKey()) });
  assert.equal(foreign.statusCode, 400);
  assert.match(foreign.json().error, /signature does not match this gateway's key/);
  const altered = buildBundle(FIRMWARE, key);
  altered.files['canplug/app.py'] = Buffer.from('print("owned")\n').toString('base64');
  const changed = await post('socket-1', { bundle: altered });
  assert.equal(changed.statusCode, 400);
  assert.match(changed.json().error, /canplug\/app\.py does not match its manifest entry/);
  const malformed = await post('socket-1', { bundle: { format: 1, version: 'one' } });
  assert.equal(malformed.statusCode, 400, malformed.body);

  // The simulated sockets speak the protocol but not the transfer: the update fails and says why.
  const started = await post('socket-1');
  assert.equal(started.statusCode, 202, started.body);
  assert.deepEqual([started.json().stage, started.json().to], ['queued', '1.0']);
  assert.equal((await post('socket-1')).statusCode, 409, 'one update per socket at a time');
  const closing = await api.inject({ method: 'PUT', url: '/api/devices/socket-1/relay', headers: tg.auth, payload: { on: true } });
  assert.equal(closing.statusCode, 409);
  const failed = await waitFor(
    async () => {
      const update = (await api.inject({ url: '/api/devices/socket-1/firmware' })).json().update;
      return update?.stage === 'failed' ? update : undefined;
    },
    30_000,
    'the update to fail',
  );
  assert.match(failed.error, /the node does not answer firmware requests/);
  const view = (await api.inject({ url: '/api/devices/socket-1/firmware' })).json();
  assert.deepEqual([view.installed, view.latest], ['1.0', '1.0']);
  assert.equal(
    (await api.inject({ method: 'PUT', url: '/api/devices/socket-1/relay', headers: tg.auth, payload: { on: true } })).statusCode,
    200,
    'the guard let go',
  );
  const events = (await api.inject({ url: '/api/events?device=socket-1&type=firmware' })).json().events as { cause: string }[];
  assert.deepEqual(events.map((e) => e.cause).sort(), ['failed', 'queued']);
});
