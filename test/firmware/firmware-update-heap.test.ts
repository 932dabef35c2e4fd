// What a firmware update costs in heap on the MicroPython VM booted with the ESP32's 96 KB: the update
// code is loaded by the update (firmware/canplug/node.py update_service) and dropped after one that did
// not install. Reports the live heap before, during and after; the limits are in firmware/README.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleOf } from '../helpers/firmware-bundles.js';
import { updateRig } from '../helpers/firmware-update-rig.js';
import { waitFor } from '../helpers/gateway.js';

const HEAP = 96 * 1024;

test('heap of a firmware update on the MicroPython VM booted with 96 KB', { timeout: 900_000 }, async (t) => {
  const rig = await updateRig(t, { node: { heapBytes: HEAP } });
  const live = async () => (await rig.socket.node.heap()).alloc;
  const before = await live();
  let peak = before;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      if (!rig.socket.restarting) peak = Math.max(peak, await live().catch(() => 0));
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  const started = await rig.tg.gateway.parts.api.inject({
    method: 'POST',
    url: '/api/devices/socket-5/firmware',
    headers: rig.tg.auth,
    payload: { bundle: bundleOf('1.1', rig.key) },
  });
  assert.equal(started.statusCode, 202);
  const end = await rig.outcome();
  sampling = false;
  await sampler;
  assert.equal(end.stage, 'installed', end.error);
  await waitFor(() => rig.device().firmware === '1.1', 60_000, 'the node runs 1.1');
  const after = await live();
  t.diagnostic(
    `live heap (gc.mem_alloc after a collection) of the VM node booted with ${HEAP} bytes: ${before} before the update, at most ${peak} during it, ${after} in the new firmware after it`,
  );
  assert.ok(peak > before, 'the update code was loaded for the update');
});
