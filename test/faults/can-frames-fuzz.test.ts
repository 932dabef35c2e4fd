// Random and malformed CAN frames into a running gateway (protocol v1 and the legacy seed profile):
// every 11-bit id with every DLC, remote and error frames, 29-bit ids, over-long payloads, then
// fast-check's random mixes. The gateway never crashes, every frame is accounted for, no listener
// throws, stored and published values stay numbers, energy totals never go down, and it stays healthy.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CanFrame } from '../../src/can/frame.js';
import { statePayload } from '../../src/gateway/device.js';
import { startGateway, waitFor, type TestGateway } from '../helpers/gateway.js';
import { recordFigure } from '../helpers/figures.js';

/** A deterministic byte source for the corpus (the corpus must be the same on every run). */
function bytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Every 11-bit id with every DLC 0..8, a remote and an error frame per id, and some 29-bit and over-long frames. */
function corpus(): CanFrame[] {
  const frames: CanFrame[] = [];
  for (let id = 0; id <= 0x7ff; id++) {
    for (let dlc = 0; dlc <= 8; dlc++) frames.push({ id, data: bytes(id * 16 + dlc, dlc) });
    frames.push({ id, data: Buffer.alloc(0), rtr: true });
    frames.push({ id, data: bytes(id, 8), err: true });
  }
  for (let i = 0; i < 256; i++) frames.push({ id: (i * 0x1234567) & 0x1fffffff, data: bytes(i, i % 9), ext: true });
  for (let dlc = 9; dlc <= 64; dlc += 5) frames.push({ id: 0x181, data: bytes(dlc, dlc) }, { id: 0x701, data: bytes(dlc + 1, dlc) });
  return frames;
}

/** Well-formed v1 frames with wild values: any node, readings at their extremes, uptimes and counters anywhere. */
const wellFormed: fc.Arbitrary<CanFrame> = fc
  .tuple(
    fc.constantFrom(0x080, 0x180, 0x280, 0x380, 0x580, 0x700),
    fc.integer({ min: 1, max: 63 }),
    fc.uint8Array({ minLength: 8, maxLength: 8 }),
    fc.integer({ min: 0, max: 4 }),
  )
  .map(([base, node, raw, small]) => {
    const data = Buffer.from(raw);
    if (base === 0x700) [data[0], data[1]] = [small % 3, 1]; // heartbeat: a defined state, protocol 1
    if (base === 0x580) data[2] = small; // reply: a defined result code
    return { id: base + node, data };
  });

const frameArb: fc.Arbitrary<CanFrame> = fc.oneof(
  { weight: 4, arbitrary: wellFormed },
  // Mostly ids the gateway understands, so the decoders and the registry are exercised, not only the id check.
  {
    weight: 4,
    arbitrary: fc.record({
      id: fc
        .constantFrom(0x000, 0x080, 0x180, 0x200, 0x280, 0x380, 0x580, 0x700)
        .chain((base) => fc.integer({ min: 0, max: 127 }).map((n) => base + n)),
      data: fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      id: fc.integer({ min: 0, max: 0x7ff }),
      data: fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
      rtr: fc.boolean(),
      err: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      id: fc.integer({ min: 0, max: 0x1fffffff }),
      data: fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
      ext: fc.constant(true),
    }),
  },
);

interface Harness {
  send(frames: CanFrame[]): Promise<void>;
  check(): void;
  messages: number;
}

/** Puts frames on the gateway's bus from a fuzzer endpoint and checks what must always hold. */
function harness(t: TestContext, tg: TestGateway): Harness {
  const { gateway } = tg;
  const fuzzer = gateway.parts.sim.bus!.attach(() => {});
  t.after(() => fuzzer.detach());
  const c0 = gateway.parts.can.counters;
  // Decoded before the harness started listening (the simulated sockets' first frames).
  const h = { messages: c0.received - c0.unknown - c0.malformed } as Harness;
  const count = () => h.messages++;
  gateway.parts.can.on('message', count);
  gateway.parts.can.on('seed', count);
  t.after(() => {
    gateway.parts.can.off('message', count);
    gateway.parts.can.off('seed', count);
  });
  // Energy totals as published in readings: never down for a device that was not found sharing its id.
  const lastEnergy = new Map<string, number>();
  t.after(
    gateway.parts.events.subscribe('test', {
      reading: (r) => {
        if (r.energy === undefined || r.device.state.conflict !== undefined) return;
        const before = lastEnergy.get(r.device.key) ?? -Infinity;
        if (r.energy < before) assert.fail(`${r.device.name}: energy went down ${before} -> ${r.energy}`);
        lastEnergy.set(r.device.key, r.energy);
      },
    }),
  );
  h.send = async (frames) => {
    const target = gateway.parts.can.counters.received + frames.length;
    for (const frame of frames) fuzzer.send(frame);
    // The simulated sockets answer some frames (discovery, commands), so count at least ours.
    await waitFor(() => gateway.parts.can.counters.received >= target, 10_000, `${frames.length} frames received`);
  };
  h.check = () => {
    const c = gateway.parts.can.counters;
    assert.equal(c.received, h.messages + c.unknown + c.malformed, 'every frame decoded, unknown or malformed');
    assert.equal(c.handlerFailed, 0, 'no listener threw');
    for (const device of gateway.parts.registry.list()) {
      const state = statePayload(device);
      for (const [key, value] of Object.entries(state)) {
        if (typeof value === 'number') assert.ok(Number.isFinite(value), `${device.name}.${key} = ${value}`);
      }
      assert.equal(gateway.parts.registry.nameProblem(device.name, device), undefined, `device name ${device.name}`);
    }
  };
  return h;
}

async function fuzz(t: TestContext, protocol: 'v1' | 'seed'): Promise<void> {
  const tg = await startGateway({ can: { protocol, sim: { nodes: [1, 2] } } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  if (protocol === 'v1') await waitFor(() => gateway.parts.registry.find('socket-1')?.available, 4000, 'socket-1 online');
  const h = harness(t, tg);

  const frames = corpus();
  for (let i = 0; i < frames.length; i += 1000) await h.send(frames.slice(i, i + 1000));
  h.check();
  const RUNS = 300;
  let generated = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(frameArb, { minLength: 1, maxLength: 30 }), async (batch) => {
      generated += batch.length;
      await h.send(batch);
      h.check();
    }),
    { numRuns: RUNS },
  );

  // Still healthy and still bridging: REST answers, MQTT is connected, the database writes.
  await waitFor(() => gateway.health().status === 'ok', 5000, `healthy: ${JSON.stringify(gateway.health())}`);
  assert.equal((await gateway.parts.api.inject({ url: '/api/devices' })).statusCode, 200);
  assert.equal(gateway.parts.writer.flush(), true);
  const c = gateway.parts.can.counters;
  t.diagnostic(
    `${protocol}: ${frames.length} corpus + ${generated} generated frames; decoded ${h.messages}, unknown ${c.unknown}, malformed ${c.malformed}; ${gateway.parts.registry.list().length} devices`,
  );
  recordFigure({
    kind: 'fuzz',
    name: `CAN frames into a running gateway (${protocol})`,
    cases: frames.length + RUNS,
    crashes: 0,
    note: `${frames.length + generated} frames`,
  });
}

test('protocol v1: every id x DLC, remote, error, 29-bit and over-long frames, then random mixes: no crash, all accounted for', async (t) => {
  await fuzz(t, 'v1');
});

test('legacy seed profile: the same corpus and mixes', async (t) => {
  await fuzz(t, 'seed');
});
