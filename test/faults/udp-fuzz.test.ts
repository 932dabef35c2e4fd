// Random UDP datagrams at the Wi-Fi plug listener over a real socket: raw bytes, near-miss broadcasts
// (the right grammar with one thing wrong), huge and empty ones. Every datagram is counted, a device
// appears only for a well-formed broadcast, values stay finite numbers, max_plugs holds, and the
// listener and the gateway carry on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import fc from 'fast-check';
import { parseDatagram } from '../../src/wifi/datagram.js';
import { statePayload } from '../../src/gateway/device.js';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { freeUdpPort } from '../helpers/wifi-plug.js';
import { recordFigure } from '../helpers/figures.js';

const chip = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }).map(String), fc.stringMatching(/^[0-9a-z-]{0,12}$/));
const name = fc.oneof(
  fc.constantFrom('Kitchen', 'socket-1', 'bridge', '../..', '', ' ', '123', 'a'.repeat(130)),
  fc.string({ maxLength: 40 }),
);
const value = fc.oneof(
  fc.double({ noNaN: false }).map(String),
  fc.constantFrom(
    '0',
    '1',
    '2',
    '-1',
    '1e999',
    '-1e999',
    'NaN',
    'Infinity',
    '0x10',
    '1.00',
    '118.50',
    '',
    ' 5 ',
    '2026-11-22 10:00:00',
    'a:b',
  ),
  fc.string({ maxLength: 50 }),
);
const thing = fc
  .tuple(fc.oneof(fc.integer({ min: 0, max: 1200 }).map(String), fc.string({ maxLength: 4 })), value)
  .map(([id, v]) => `${id}:${v}`);
const broadcast = fc
  .tuple(chip, name, fc.array(thing, { maxLength: 36 }), fc.constantFrom('', '\0', '\r\n', '\n\0', '\u0001'))
  .map(([c, n, things, end]) => [`${c}:${n}`, ...things].join('&') + end);

/** Broadcasts as the firmware sends them, with values at the edges (some still refused: negative or infinite watts, a clock over 40 characters). */
const wellFormed = fc
  .tuple(
    fc.integer({ min: 1, max: 40 }),
    fc.constantFrom('Kitchen', 'socket-1', 'Hall plug', 'x'),
    fc.constantFrom('0', '1', '1.00', '2', '0.50', 'nan'),
    fc.oneof(
      fc.double({ min: -10, max: 1e6, noNaN: true }).map((w) => w.toFixed(2)),
      fc.constantFrom('1e999', '0', '118.50', '1e308'),
    ),
    fc.constantFrom('0.90', '1e999', '12'),
    fc.constantFrom('10:00:07 - 22.11.2026', '2026-11-22 10:00:00', '', 'x'.repeat(41)),
  )
  .map(([c, n, plug, watts, wh, clock]) => `${c}:${n}&1:${plug}&2:${watts}&3:${wh}&4:${clock}`);

const datagram: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: wellFormed.map((s) => Buffer.from(s)) },
  { weight: 4, arbitrary: broadcast.map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 1024, 1025, 8000, 65_507).map((n) => Buffer.alloc(n, 0x31)) },
);

test('random datagrams over a real UDP socket: all counted, devices only from well-formed broadcasts, values finite, max_plugs holds', async (t) => {
  const port = await freeUdpPort();
  const maxPlugs = 20;
  const tg = await startGateway({ udp: { port, host: '127.0.0.1', max_plugs: maxPlugs } });
  t.after(() => tg.stop());
  const { gateway } = tg;
  const sender = createSocket('udp4');
  t.after(() => sender.close());
  const send = (bytes: Buffer) =>
    new Promise<void>((resolve, reject) => sender.send(bytes, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));

  const RUNS = 300;
  const acceptedChips = new Set<string>();
  let sent = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(datagram, { minLength: 1, maxLength: 10 }), async (batch) => {
      for (const bytes of batch) {
        await send(bytes);
        sent++;
        const parsed = parseDatagram(bytes, 1024);
        if (parsed.ok) acceptedChips.add(parsed.datagram.chipId);
      }
      // Paced in small batches so that loopback never drops one: counted before the next batch goes out.
      await waitFor(() => gateway.parts.wifi.counters.received >= sent, 3000, `datagram ${sent} counted`);
    }),
    { numRuns: RUNS },
  );

  const counters = gateway.parts.wifi.counters;
  assert.equal(counters.received, sent, 'every datagram counted');
  const plugs = gateway.parts.registry.list().filter((d) => d.kind === 'wifi');
  assert.equal(plugs.length, Math.min(acceptedChips.size, maxPlugs), 'a plug per well-formed chip id, up to max_plugs');
  assert.ok(
    plugs.every((p) => acceptedChips.has(p.key.slice(5))),
    'no device from a malformed datagram',
  );
  assert.equal(counters.ignored > 0, acceptedChips.size > maxPlugs);
  for (const plug of plugs) {
    for (const [key, v] of Object.entries(statePayload(plug)))
      if (typeof v === 'number') assert.ok(Number.isFinite(v), `${plug.name}.${key} = ${v}`);
    assert.equal(gateway.parts.registry.nameProblem(plug.name, plug), undefined);
  }
  assert.equal(gateway.health().status, 'ok', JSON.stringify(gateway.health()));
  assert.equal((gateway.health().udp as { listening: boolean }).listening, true);
  assert.ok(gateway.parts.registry.find('socket-1')?.key === 'can:1', "a plug named socket-1 did not take the CAN socket's name");
  t.diagnostic(
    `${sent} datagrams: ${counters.malformed} malformed, ${acceptedChips.size} chip ids accepted, ${plugs.length} plugs, ${counters.ignored} over max_plugs`,
  );
  recordFigure({
    kind: 'fuzz',
    name: 'UDP datagrams at the Wi-Fi plug listener',
    cases: sent,
    crashes: 0,
    note: `${RUNS} fast-check runs`,
  });
});
