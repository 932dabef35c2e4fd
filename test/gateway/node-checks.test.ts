// The plausibility checks behind "two nodes, one node id" and "a flapping node" (src/gateway/node-checks.ts),
// as properties over generated heartbeat timelines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FLAP_WINDOW_MS, FlapDamper, IDENTITY_WINDOW_MS, IdentityCheck } from '../../src/gateway/node-checks.js';
import { recordFigure } from '../helpers/figures.js';

const RUNS = 1000;

/** One real node: heartbeats every ~1 s with jitter, stalls of the gateway (bursts), reboots with or without their boot heartbeat. */
const oneNode = fc.record({
  start: fc.integer({ min: 0, max: 1_000_000 }),
  steps: fc.array(
    fc.oneof(
      { weight: 20, arbitrary: fc.record({ kind: fc.constant('beat' as const), gapMs: fc.integer({ min: 700, max: 1300 }) }) },
      // The gateway stalls: heartbeats queue up and are handled at once.
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('stall' as const), beats: fc.integer({ min: 2, max: 8 }) }) },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('reboot' as const),
          bootSeen: fc.boolean(),
          downMs: fc.integer({ min: 100, max: 20_000 }),
        }),
      },
    ),
    { minLength: 5, maxLength: 200 },
  ),
});

test('one node never looks like two: jitter, stalls and reboots (boot heartbeat seen or lost) raise no conflict (property)', () => {
  fc.assert(
    fc.property(oneNode, ({ start, steps }) => {
      const check = new IdentityCheck();
      let now = 0;
      let uptimeMs = start * 1000;
      let lastLostBoot = -Infinity;
      for (const step of steps) {
        if (step.kind === 'beat') {
          now += step.gapMs;
          uptimeMs += step.gapMs;
          check.heartbeat('running', Math.floor(uptimeMs / 1000), now);
        } else if (step.kind === 'stall') {
          // Heartbeats sent a second apart reach the gateway in one go after the stall.
          uptimeMs += step.beats * 1000;
          now += step.beats * 1000;
          for (let i = step.beats - 1; i >= 0; i--) check.heartbeat('running', Math.floor((uptimeMs - i * 1000) / 1000), now);
        } else {
          // A lost boot heartbeat is a lost CAN frame after a reboot: rare; at most one per identity window
          // (the next heartbeat, which shows the uptime went back, may come up to a stall of 8 s later).
          now += step.downMs;
          const bootSeen = step.bootSeen || now - lastLostBoot <= IDENTITY_WINDOW_MS + 10_000;
          if (!bootSeen) lastLostBoot = now;
          uptimeMs = 0;
          if (bootSeen) check.heartbeat('boot', 0, now);
        }
        assert.equal(check.conflict, undefined);
      }
    }),
    { numRuns: RUNS },
  );
});

test('two nodes on one id are found within a few heartbeats when their uptimes differ by more than the slack (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 6, max: 100_000 }), fc.boolean(), (a, apart, aFirst) => {
      const check = new IdentityCheck();
      const b = a + apart;
      let found = -1;
      for (let i = 0; i < 10 && found < 0; i++) {
        const now = i * 500;
        const [first, second] = aFirst ? [a, b] : [b, a];
        if (check.heartbeat('running', first + i, now) === 'started' || check.heartbeat('running', second + i, now + 250) === 'started')
          found = i;
      }
      assert.ok(found >= 0 && found <= 2, `found after ${found} rounds`);
    }),
    { numRuns: RUNS },
  );
});

test('two nodes with nearly the same uptime are found from their seq counters; one reboot is not a conflict', () => {
  const check = new IdentityCheck();
  // One reboot: each frame type's counter goes back once.
  assert.equal(check.seqWentBack('power', 200, 0, 0), undefined);
  assert.equal(check.seqWentBack('environment', 200, 0, 10), undefined);
  assert.equal(check.conflict, undefined);
  // Interleaved counters: back on every other frame.
  let started = -1;
  for (let i = 0; i < 10 && started < 0; i++) if (check.seqWentBack('power', 50 + i, 40 + i, 1000 + i * 200) === 'started') started = i;
  assert.ok(started >= 0 && started <= 5, `found after ${started} frames`);
  assert.match(check.conflict ?? '', /power seq counter went back/);
  // It clears once a whole window passed without evidence (one node left).
  assert.equal(check.heartbeat('running', 100, 2000), undefined);
  assert.equal(check.heartbeat('running', 100 + 32, 2000 + IDENTITY_WINDOW_MS + 100), 'cleared');
  assert.equal(check.conflict, undefined);
});

test('a flapping node: after three drops in a minute it comes back only after a steady spell; the alarm clears after a quiet minute (property)', () => {
  const hold = 2000;
  fc.assert(
    fc.property(
      fc.array(fc.record({ upMs: fc.integer({ min: 100, max: 4000 }), downMs: fc.integer({ min: 600, max: 5000 }) }), {
        minLength: 1,
        maxLength: 60,
      }),
      (cycles) => {
        const damper = new FlapDamper();
        const drops: number[] = [];
        let now = 0;
        let online = false;
        let transitions = 0;
        const heartbeatsFor = (ms: number) => {
          const resumed = now;
          for (let t = 0; t < ms; t += 100) {
            if (online || !damper.mayComeBack(now + t, hold)) continue;
            const recentDrops = drops.filter((d) => now + t - d <= FLAP_WINDOW_MS).length;
            // The property: with three drops in the last minute, only a steady spell of `hold` brings it back.
            if (recentDrops >= 3)
              assert.ok(now + t - resumed >= hold, `back after ${now + t - resumed} ms with ${recentDrops} recent drops`);
            online = true;
            transitions++;
          }
          now += ms;
        };
        for (const { upMs, downMs } of cycles) {
          heartbeatsFor(upMs);
          // Silent for longer than the timeout: the sweep reports it.
          if (online) {
            damper.dropped(now);
            drops.push(now);
            online = false;
            transitions++;
          } else {
            damper.interrupted();
          }
          now += downMs;
        }
        // Steady heartbeats: back within the hold, and a whole quiet minute later the alarm is over.
        heartbeatsFor(hold + 100);
        assert.equal(online, true, 'steady heartbeats bring it back');
        const wasFlapping = damper.flapping;
        assert.equal(damper.settle(now + FLAP_WINDOW_MS + 1), wasFlapping ? 'cleared' : undefined);
        assert.equal(damper.flapping, false, 'the flapping alarm clears after a quiet minute');
        assert.ok(transitions <= 2 * cycles.length + 1);
      },
    ),
    { numRuns: RUNS },
  );
  recordFigure({ kind: 'fuzz', name: 'node id and flapping checks (generated timelines)', cases: 3 * RUNS + 1, crashes: 0 });
});
