// Mosquitto killed outright (SIGKILL, no goodbye) twice during a flood of 20 sockets: nothing the
// gateway measured is lost from SQLite, and every retained topic is back after each restart.
// (test/mqtt/broker-restart.test.ts does a clean stop with 3 sockets; this is the crash under load.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, waitFor, recordingClient } from '../helpers/gateway.js';
import { startBroker } from '../helpers/broker.js';
import { recordFigure } from '../helpers/figures.js';
import { readingsLost, recordGateway, sleep } from '../helpers/faults.js';

const NODES = Array.from({ length: 20 }, (_, i) => i + 1);

test('the broker SIGKILLed twice during a 20-socket flood: no reading lost, retained state restored each time', async (t) => {
  const broker = await startBroker();
  t.after(() => broker.close());
  const tg = await startGateway({ can: { sim: { nodes: NODES, report_period_ms: 100 } }, mqtt: { url: broker.url } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const seen = recordGateway(gateway);
  t.after(seen.stop);
  await waitFor(() => NODES.every((n) => gateway.parts.registry.find(`socket-${n}`)?.available), 10_000, 'all sockets online');

  const KILLS = 2;
  const restoreTimes: number[] = [];
  for (let kill = 1; kill <= KILLS; kill++) {
    const readingsBefore = seen.readings;
    await broker.stop('SIGKILL');
    await waitFor(() => !gateway.parts.mqtt.connected, 5000, 'the gateway notices');
    assert.equal(gateway.health().status, 'degraded');
    await sleep(2000);
    assert.ok(seen.readings - readingsBefore > 400, `readings went on while the broker was dead (${seen.readings - readingsBefore})`);
    await broker.start();
    const backAt = performance.now();
    // A client that connects as soon as the broker is back sees every retained topic again.
    const view = await recordingClient(broker.url, ['canplug/#', 'homeassistant/#']);
    await waitFor(
      () =>
        view.messages.get('canplug/bridge/state') === 'online' &&
        NODES.every(
          (n) => view.messages.get(`canplug/socket-${n}/availability`) === 'online' && view.messages.has(`canplug/socket-${n}`),
        ) &&
        [...view.messages.keys()].filter((k) => k.startsWith('homeassistant/') && k.endsWith('/config')).length >= NODES.length * 14,
      8000,
      `retained state back after kill ${kill}`,
    );
    restoreTimes.push(performance.now() - backAt);
    await view.client.endAsync();
    await waitFor(() => gateway.health().status === 'ok', 5000, 'healthy again');
  }

  const lost = readingsLost(gateway, tg.config.database.path);
  assert.equal(lost, 0, 'every reading is in SQLite');
  assert.equal(gateway.parts.writer.health().readingsDropped, 0);
  t.diagnostic(
    `retained state back ${restoreTimes.map((ms) => `${ms.toFixed(0)} ms`).join(', ')} after each restart; ${seen.readings} readings`,
  );
  recordFigure({
    kind: 'fault',
    name: 'MQTT broker SIGKILLed during a 20-socket flood',
    survived: `${KILLS} kills; retained state back in ${Math.max(...restoreTimes).toFixed(0)} ms at worst`,
    lost,
  });
});
