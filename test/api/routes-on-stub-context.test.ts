// The REST API on its own: the Fastify app through inject() on a context whose devices live in a real
// registry (temporary database) and whose relays are switched by a stand-in driver; the parts of the
// gateway a route does not use are absent and fail the test if touched. The whole-gateway tests
// (relay-status-codes, auth, http-hardening) keep the same answers end to end.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { RelayActionName } from '../../src/can/codec.js';
import { buildApp } from '../../src/api/app.js';
import { AuthFailures } from '../../src/api/auth.js';
import type { ApiContext } from '../../src/api/context.js';
import { LiveStream } from '../../src/api/live.js';
import { parseConfig } from '../../src/config/config.js';
import type { HealthReport } from '../../src/contracts/health.js';
import { DeviceControl } from '../../src/gateway/control.js';
import { BusUnavailableError, CommandTimeoutError, RefusedError } from '../../src/gateway/errors.js';
import type { Device } from '../../src/gateway/device.js';
import { silentLogger } from '../../src/log.js';
import { canDevice, healthReport, unitRegistry } from '../helpers/unit.js';

/** A part of the context no route under test may use: touching it fails with its name. */
function absent<T>(name: string): T {
  const fail = (_target: object, key: string | symbol) => {
    throw new Error(`the stub context has no ${name} (${String(key)} was used)`);
  };
  return new Proxy({}, { get: fail }) as unknown as T;
}

async function stubApi(t: TestContext, health: () => HealthReport = () => healthReport()) {
  const unit = unitRegistry(t);
  const { registry, events, log } = unit;
  const control = new DeviceControl(registry, events);
  /** What the stand-in switch does next: confirm, or fail with this error. */
  let next: Error | undefined;
  control.registerDriver('can', {
    async setRelay(_device: Device, action: RelayActionName, sent: () => void) {
      if (next) throw next;
      sent();
      return action === 'close';
    },
  });
  const ctx: ApiContext = {
    registry,
    control,
    events,
    health,
    http: parseConfig({}).http,
    tokens: undefined,
    authFailures: new AuthFailures(silentLogger),
    live: new LiveStream({ events, registry, log: silentLogger }),
    version: '0.0.0-test',
    commands: absent('commands'),
    firmware: absent('firmware'),
    history: absent('history'),
    eventLog: absent('eventLog'),
    safety: absent('safety'),
    rules: absent('rules'),
    energy: absent('energy'),
    flushPending: () => {},
    configSummary: () => ({}),
    metrics: async () => '',
  };
  const app = await buildApp({ ctx, log: silentLogger });
  t.after(() => app.close());
  return {
    app,
    unit,
    registry,
    log,
    failNext: (error: Error | undefined) => (next = error),
    put: (id: string, payload: unknown) => app.inject({ method: 'PUT', url: `/api/devices/${id}/relay`, payload: payload as object }),
  };
}

test('PUT relay: 200 with the confirmed state by name or node id, 404, one-sentence 400s', async (t) => {
  const { put, unit } = await stubApi(t);
  canDevice(unit, 1);

  const on = await put('socket-1', { on: true });
  assert.equal(on.statusCode, 200);
  assert.equal(on.json().state.state, 'ON');
  const off = await put('1', { on: false });
  assert.equal(off.json().state.state, 'OFF');

  const unknown = await put('socket-42', { on: true });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().error, 'no device "socket-42" (use a name, a node id or a key from GET /api/devices)');
  for (const [body, error] of [
    [{ on: 'yes' }, 'body.on: expected boolean; got "yes"'],
    [{}, 'body.on: is required'],
    [{ on: true, extra: 1 }, 'body.extra: unknown key; allowed keys here: on'],
  ] as const) {
    const res = await put('socket-1', body);
    assert.equal(res.statusCode, 400, JSON.stringify(body));
    assert.equal(res.json().error, error);
  }
});

test('PUT relay: a refusal is a 409 with its reason, no answer a 504, the bus down a 503; the state stays as it was', async (t) => {
  const { put, unit, registry, failNext } = await stubApi(t);
  const device = canDevice(unit, 2);
  registry.update(device, { state: { relay: false } });
  for (const [error, status] of [
    [new RefusedError('socket-2 is interlocked by the gateway: humidity 90 %RH'), 409],
    [new CommandTimeoutError('node 2 did not answer within 500 ms'), 504],
    [new BusUnavailableError('the CAN bus is down or its send queue is full'), 503],
  ] as const) {
    failNext(error);
    const res = await put('socket-2', { on: true });
    assert.equal(res.statusCode, status, error.message);
    assert.deepEqual(res.json(), { error: error.message, statusCode: status });
    assert.equal(device.state.relay, false);
  }
  failNext(new Error('a bug with internals in its message'));
  const bug = await put('socket-2', { on: true });
  assert.equal(bug.statusCode, 500);
  assert.deepEqual(bug.json(), { error: 'internal error; see the gateway log', statusCode: 500 }, 'internals stay in the log');
});

test('PATCH a name: a bad or taken name is a 400 and changes nothing; a good one renames', async (t) => {
  const { app, unit, registry } = await stubApi(t);
  canDevice(unit, 1);
  canDevice(unit, 2);
  const rename = (id: string, name: string) => app.inject({ method: 'PATCH', url: `/api/devices/${id}`, payload: { name } });

  const taken = await rename('socket-1', 'socket-2');
  assert.equal(taken.statusCode, 400);
  assert.equal(taken.json().error, 'the name "socket-2" is already used by can:2');
  const digits = await rename('socket-1', '12');
  assert.equal(digits.json().error, 'a device name cannot be only digits (those address node ids)');
  assert.equal(registry.canNode(1)!.name, 'socket-1');

  const ok = await rename('socket-1', 'Kitchen kettle');
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json().name, 'Kitchen kettle');
  assert.equal((await app.inject({ url: '/api/devices/Kitchen%20kettle' })).json().key, 'can:1');
});

test('GET /api/devices lists every device with its live state; unknown routes are a 404 that names them', async (t) => {
  const { app, unit, registry } = await stubApi(t);
  const device = canDevice(unit, 3);
  registry.update(device, { state: { relay: true, power: 42.5, humidity: 55 } });
  const list = await app.inject({ url: '/api/devices' });
  assert.equal(list.statusCode, 200);
  assert.deepEqual(
    list.json().map((d: { name: string; available: boolean; state: object }) => [d.name, d.available, d.state]),
    [
      [
        'socket-3',
        true,
        {
          state: 'ON',
          power: 42.5,
          humidity: 55,
          interlock: false,
          fault: false,
          problem: false,
          uptime: 10,
          firmware: '1.0',
          frames_lost: 0,
        },
      ],
    ],
  );
  const missing = await app.inject({ url: '/api/nothing-here?x=1' });
  assert.deepEqual(missing.json(), { error: 'no route GET /api/nothing-here', statusCode: 404 });
});

test("health answers with the gateway's report", async (t) => {
  const report = healthReport({ status: 'degraded', problems: ['the MQTT broker is not reachable'] });
  const { app } = await stubApi(t, () => report);
  const res = await app.inject({ url: '/api/health' });
  assert.equal(res.statusCode, 503, 'not ok is a 503');
  assert.deepEqual(res.json(), report);
});
