// Wall-clock jumps (NTP correcting a Pi without a real-time clock, a person setting the date): timeouts
// and watchdogs run on the monotonic clock, so nothing goes offline or raises an alarm because of a
// jump, and a real timeout still fires after a jump back. Stored timestamps follow the wall clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { recordFigure } from '../helpers/figures.js';
import { readingsLost, recordGateway, shiftWallClock, sleep, storedReadings } from '../helpers/faults.js';

const HOUR = 3_600_000;

test('clock jumps of +6 h and -6 h: no device goes offline, no alarm fires, and real timeouts still fire', async (t) => {
  const tg = await startGateway({
    // Heartbeats every second: a 3 s timeout leaves a loaded test machine room, so only a jump could cause an offline.
    can: { heartbeat_timeout_ms: 3000 },
    safety: { humidity_stale_s: 3, relay_confirm_s: 1 },
  });
  t.after(() => tg.stop());
  const { gateway } = tg;
  await waitFor(() => ['socket-1', 'socket-2'].every((n) => gateway.parts.registry.find(n)?.available), 4000, 'both sockets online');
  const seen = recordGateway(gateway);
  t.after(seen.stop);
  let restore = () => {};
  t.after(() => restore());
  const falseEvents = () =>
    seen.log.filter((e) => e.type === 'availability' || e.type === 'alarm').map((e) => `${e.device?.name}: ${e.type} ${e.cause}`);

  // Forward: without a monotonic clock every heartbeat looks 6 h old and every humidity report stale.
  restore = shiftWallClock(6 * HOUR);
  await sleep(4000);
  assert.deepEqual(falseEvents(), [], 'nothing went offline or raised an alarm after +6 h');
  const uptime = gateway.health().uptime_s as number;
  assert.ok(uptime < 600, `uptime is measured, not read off the wall clock: ${uptime} s`);
  restore();

  // Back: without a monotonic clock the silence below would never become a timeout.
  restore = shiftWallClock(-6 * HOUR);
  await sleep(4000);
  assert.deepEqual(falseEvents(), [], 'nothing went offline or raised an alarm after -6 h');
  const live = (await gateway.parts.api.inject({ url: '/api/devices/socket-1' })).json();
  assert.equal(live.available, true);

  // A node that really goes silent still goes offline in its timeout.
  gateway.parts.sim.sockets[1].silent = true;
  const silentAt = performance.now();
  await waitFor(() => !gateway.parts.registry.find('socket-2')!.available, 10_000, 'socket-2 offline after the jump back');
  const offlineMs = performance.now() - silentAt;

  // A relay that does not open raises its alarm even when the clock jumps back in between.
  gateway.parts.sim.sockets[0].weldedRelay = true;
  const open = await gateway.parts.api.inject({
    method: 'PUT',
    url: '/api/devices/socket-1/relay',
    payload: { on: false },
    headers: tg.auth,
  });
  assert.equal(open.statusCode, 200);
  restore();
  restore = shiftWallClock(-7 * HOUR);
  await waitFor(
    () => seen.log.some((e) => e.type === 'alarm' && e.device?.name === 'socket-1' && /still reports closed/.test(e.cause ?? '')),
    6000,
    'relay-stuck alarm',
  );

  // Timestamps in the database follow the wall clock, as they should (the history shows the jump).
  restore();
  const lost = readingsLost(gateway, tg.config.database.path);
  assert.equal(lost, 0, 'every accepted reading is stored');
  const shifted = storedReadings(tg.config.database.path, 'ts < ?', Date.now() - 5 * HOUR);
  assert.ok(shifted > 0, 'readings taken during the jump back carry the wall-clock time of then');
  t.diagnostic(`socket-2 offline ${offlineMs.toFixed(0)} ms after it went silent (timeout 3000 ms)`);
  recordFigure({
    kind: 'fault',
    name: 'wall clock jumps +6 h, -6 h, -7 h',
    survived: '3 jumps: no false offline or alarm; timeouts still fire',
    lost,
  });
});
