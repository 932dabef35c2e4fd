// Runs test/vcan files against the real kernel CAN stack: one User-Mode Linux guest boots, runs the
// files there, and its results are reported here, test by test. Where no guest can start, the test
// is skipped with the reason, unless CANPLUG_REQUIRE_VCAN=1 (CI), which makes that a failure so a
// guest suite can never be skipped silently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guestAvailability, runInGuest, vcanTestFiles } from '../../scripts/uml/run-in-guest.mjs';

const TIMEOUT_MS = 15 * 60_000;

/**
 * Guest files that run in a guest of their own (guestSuite below), beside the main one: they are
 * slow because they pace a bus in real time, not because they use the CPU, so two guests at once
 * take about the time of the longer one.
 */
export const OWN_GUEST_FILES = ['test/vcan/firmware-update.vcan.ts'];

/** Every guest file but those that run in a guest of their own. */
export function mainGuestFiles(): string[] {
  return vcanTestFiles().filter((f: string) => !OWN_GUEST_FILES.includes(f));
}

/** One top-level test that runs `files` in one guest and reports each guest test as a subtest. */
export function guestSuite(name: string, files: () => string[]): void {
  const required = process.env.CANPLUG_REQUIRE_VCAN === '1';
  const availability = guestAvailability();
  const skip = !availability.ok && !required ? `${availability.reason} (CANPLUG_REQUIRE_VCAN=1 makes this a failure)` : false;

  test(name, { skip, timeout: TIMEOUT_MS + 60_000 }, async (t) => {
    assert.ok(availability.ok, `CANPLUG_REQUIRE_VCAN=1 but the UML guest cannot start: ${availability.reason}`);
    const chosen = files();
    assert.ok(chosen.length > 0, 'no test/vcan/*.vcan.ts files found');
    const result = await runInGuest({ files: chosen, timeoutMs: TIMEOUT_MS });

    // The guest's own report, prefixed so its counts are never taken for this run's.
    for (const line of result.tap.split('\n')) if (line) process.stdout.write(`guest| ${line}\n`);
    const ms = (v: number | null) => (v === null ? 'n/a' : `${Math.round(v)} ms`);
    t.diagnostic(`guest boot ${ms(result.bootMs)}, guest suite ${ms(result.suiteMs)}, total ${ms(result.totalMs)}`);
    for (const m of result.metrics) t.diagnostic(`guest ${m.message}`);

    // Each top-level guest test (or a guest file that failed to load) becomes a subtest here.
    for (const g of result.tests.filter((x) => x.nesting === 0)) {
      await t.test(`guest: ${g.name}`, { skip: g.skip, todo: g.todo }, () => {
        if (g.type === 'fail') throw new Error(`failed in the guest: ${g.error ?? 'no detail'}`);
      });
    }

    const tail = () => `\n--- guest console (tail) ---\n${result.console.slice(-4000)}`;
    const failed = result.tests.filter((x) => x.type === 'fail' && x.nesting === 0).map((x) => x.name);
    assert.equal(result.timedOut, false, `the guest ran past ${TIMEOUT_MS} ms and was killed${tail()}`);
    assert.notEqual(result.status, null, `the guest never finished its suite (exit ${JSON.stringify(result.exit)})${tail()}`);
    assert.ok(result.tests.length > 0, `the guest ran no test${tail()}`);
    assert.deepEqual(result.leftover, [], 'no guest process outlives the run');
    const why = result.status === 124 ? ' (the guest suite ran out of its own time limit)' : '';
    assert.equal(
      result.status,
      0,
      `guest suite exit ${result.status}${why}; failing guest tests: ${failed.join('; ') || '(none reported)'}; results kept in ${result.runDir}${tail()}`,
    );
  });
}
