// The database stops taking writes (disk full, read-only): the daemon keeps bridging CAN to MQTT and
// REST, says so in /api/health, keeps what it could not write (bounded) and writes it all once the
// database takes writes again. Nothing the gateway accepted is lost.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SimSocket } from '../../src/can/sim-socket.js';
import { recordingClient, startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { recordFigure } from '../helpers/figures.js';
import { readingsLost, sleep } from '../helpers/faults.js';

/** A small tmpfs for the database (root only); undefined where mounting is not allowed. */
function smallDisk(t: TestContext): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  t.after(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Fills the file system holding `dir` until the kernel says ENOSPC; returns the filler's path. */
function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * 1024, 0x55);
  try {
    for (;;) writeSync(fd, block);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
  return path;
}

interface Outage {
  name: string;
  /** Makes the database refuse writes; returns the function that gives it back. */
  begin(tg: TestGateway): () => void;
  error: RegExp;
  /** A full disk still takes a small write that fits in the WAL file's free space; query_only takes none. */
  everyWriteFails: boolean;
}

/** Every Wh of an energy total published (no deadband): state keeps reaching MQTT while the test watches. */
const EVERY_ENERGY_STEP = { publish: { energy: { absolute: 0 } } };

/** The same story for each way a database stops taking writes. */
async function survives(t: TestContext, tg: TestGateway, outage: Outage): Promise<void> {
  const { gateway } = tg;
  await waitFor(() => [1, 2, 3].every((n) => gateway.parts.registry.find(`socket-${n}`)?.available), 4000, 'sockets online');
  const mqtt = await recordingClient(gateway.mqttUrl(), ['canplug/+']);
  t.after(() => mqtt.client.endAsync());
  gateway.parts.sim.sockets[0].setLoad(3000); // about one Wh a second: the energy total changes during the outage

  const give = outage.begin(tg);
  const outageStarted = performance.now();
  const health = await waitFor(
    () => {
      const h = gateway.health();
      return (h.database as { ok: boolean }).ok === false && h;
    },
    5000,
    'the database problem in health',
  );
  assert.equal(health.status, 'degraded');
  assert.match((health.database as { error: string }).error, outage.error);
  const rest = await gateway.parts.api.inject({ url: '/api/health' });
  assert.equal(rest.statusCode, 503, 'GET /api/health says it too');

  // Bridging goes on: state reaches MQTT, REST reads and switches, and a new node comes and goes.
  const before = mqtt.log.length;
  const off = await gateway.parts.api.inject({
    method: 'PUT',
    url: '/api/devices/socket-2/relay',
    payload: { on: false },
    headers: tg.auth,
  });
  assert.equal(off.statusCode, 200, off.body);
  await waitFor(() => JSON.parse(mqtt.messages.get('canplug/socket-2') ?? '{}').state === 'OFF', 3000, 'socket-2 OFF on MQTT');
  const rename = await gateway.parts.api.inject({
    method: 'PATCH',
    url: '/api/devices/socket-3',
    payload: { name: 'garage' },
    headers: tg.auth,
  });
  assert.equal(rename.statusCode, 503, rename.body);
  assert.match(rename.json().error, /the database refuses changes right now .*nothing was changed/);
  assert.ok(gateway.parts.registry.find('socket-3'), 'not renamed in memory either');
  const newcomer = new SimSocket({ node: 9, reportPeriodMs: 100 });
  newcomer.start(gateway.parts.sim.bus!.attach((frame) => newcomer.receive(frame)).send);
  t.after(() => newcomer.stop());
  const energyBefore = gateway.parts.registry.find('socket-1')!.state.energy!;
  const publishedEnergy = () => JSON.parse(mqtt.messages.get('canplug/socket-1') ?? '{}').energy as number;
  const publishedBefore = publishedEnergy();
  await sleep(2500);
  assert.ok(gateway.parts.registry.find('socket-1')!.state.energy! > energyBefore, 'energy totals still move');
  assert.ok(
    publishedEnergy() > publishedBefore,
    `MQTT kept getting state during the outage (socket-1 ${publishedBefore} -> ${publishedEnergy()} kWh, ${mqtt.log.length - before} messages)`,
  );
  if (outage.everyWriteFails) {
    assert.equal(gateway.parts.registry.find('socket-9'), undefined, 'a device that cannot be stored is not made up');
    assert.ok((gateway.health().can as { frames_not_applied: number }).frames_not_applied > 0, 'its frames are counted as not applied');
  }
  const pendingDuring = (gateway.health().database as { pending: number }).pending;
  assert.ok(pendingDuring > 50, `rows kept for later: ${pendingDuring}`);

  give();
  const outageMs = performance.now() - outageStarted;
  await waitFor(
    () => gateway.health().status === 'ok' && (gateway.health().database as { pending: number }).pending < 20,
    5000,
    'writes resumed',
  );
  await waitFor(() => gateway.parts.registry.find('socket-9')?.available, 4000, 'the new node registered once writes work');

  const lost = readingsLost(gateway, tg.config.database.path);
  assert.equal(lost, 0, 'every reading accepted during the outage is in SQLite');
  const db = new Database(tg.config.database.path, { readonly: true });
  t.after(() => db.close());
  const relayEvent = db
    .prepare(
      "SELECT count(*) AS n FROM events e JOIN devices d ON d.id = e.device_id WHERE d.name = 'socket-2' AND e.type = 'relay' AND e.cause = 'off'",
    )
    .get() as { n: number };
  assert.equal(relayEvent.n, 1, 'the switch made during the outage is in the event log');
  // The energy total saved with the next change after the outage (socket-1 moves about once a second).
  await waitFor(
    () => {
      const row = db.prepare("SELECT last_energy_wh AS wh FROM devices WHERE name = 'socket-1'").get() as { wh: number };
      return row.wh === gateway.parts.sim.sockets[0].energyWh || row.wh === gateway.parts.sim.sockets[0].energyWh - 1;
    },
    5000,
    'energy total persisted',
  );
  recordFigure({
    kind: 'fault',
    name: outage.name,
    survived: `${(outageMs / 1000).toFixed(1)} s of refused writes, bridging on, ${pendingDuring}+ rows kept`,
    lost,
  });
}

test('disk full: bridging goes on, health says so, and everything kept is written once space returns', async (t) => {
  const disk = smallDisk(t);
  const tg = await startGateway({
    can: { sim: { nodes: [1, 2, 3], report_period_ms: 100 } },
    mqtt: EVERY_ENERGY_STEP,
    database: disk ? { path: join(disk, 'canplug.db') } : {},
  });
  t.after(() => tg.stop());
  await survives(t, tg, {
    name: disk ? 'disk full (3 MB tmpfs filled up)' : 'disk full (SQLite max_page_count; no mount allowed here)',
    error: /database or disk is full/,
    everyWriteFails: !disk,
    begin: ({ gateway }) => {
      if (disk) {
        const filler = fillDisk(disk);
        return () => rmSync(filler);
      }
      const pages = gateway.parts.db.pragma('page_count', { simple: true }) as number;
      gateway.parts.db.pragma(`max_page_count = ${pages}`);
      return () => gateway.parts.db.pragma('max_page_count = 4294967294');
    },
  });
});

test('database read-only: bridging goes on, health says so, and everything kept is written once it is writable', async (t) => {
  const tg = await startGateway({ can: { sim: { nodes: [1, 2, 3], report_period_ms: 100 } }, mqtt: EVERY_ENERGY_STEP });
  t.after(() => tg.stop());
  // A file system remounted read-only under an open database cannot be staged here (the kernel refuses
  // with files open for writing); SQLite's query_only makes every write fail the same way (SQLITE_READONLY).
  await survives(t, tg, {
    name: 'database read-only (SQLite query_only)',
    error: /readonly database/,
    everyWriteFails: true,
    begin: ({ gateway }) => {
      gateway.parts.db.pragma('query_only = ON');
      return () => gateway.parts.db.pragma('query_only = OFF');
    },
  });
});
