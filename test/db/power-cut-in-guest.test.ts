// Power cuts for real: the gateway writes its database on a block device of a user-mode-linux guest
// (an ext4 image the guest sees as /dev/ubda, not the host's file system), and the host kills the
// guest at random moments, half of them just as a commit starts: what the guest's page cache held is
// gone, as on a Raspberry Pi whose plug is pulled. Each next boot checks the database
// (test/db/power-cut.guest.ts): PRAGMA integrity_check, every commit that had returned is there, the
// readings lost are within the commit interval, and the energy totals never went backwards.
// Skipped with the reason where no guest can start, unless CANPLUG_REQUIRE_VCAN=1 (CI).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestAvailability, runInGuest } from '../../scripts/uml/run-in-guest.mjs';

const CUTS = 6;
/** The commit interval in the guest: short, so a few seconds of writing hold several commits (the default is 30 s). */
const COMMIT_MS = 1000;
const GUEST_FILE = 'test/db/power-cut.guest.ts';
/** Beyond the commit interval: the commit's own time in the guest (one CPU, costly system calls) and a report period. */
const SLACK_MS = 1500;

function mkfs(): string | undefined {
  try {
    execFileSync('mkfs.ext4', ['-V'], { stdio: 'pipe' });
    return undefined;
  } catch {
    return 'mkfs.ext4 not found (apt-get install e2fsprogs)';
  }
}

const required = process.env.CANPLUG_REQUIRE_VCAN === '1';
const availability = guestAvailability();
const missing = availability.ok ? mkfs() : availability.reason;
const skip = missing && !required ? `${missing} (CANPLUG_REQUIRE_VCAN=1 makes this a failure)` : false;

interface Mark {
  what: string;
  data: Record<string, number | string | boolean | null>;
  hostAt: number;
}

/** One boot; `cutAfter` decides, mark by mark, when to pull the plug (undefined: let it finish). */
async function boot(disk: string, env: Record<string, string>, cutAfter?: (mark: Mark, marks: Mark[]) => number | undefined) {
  const marks: Mark[] = [];
  const plug = new AbortController();
  let scheduled = false;
  const result = await runInGuest({
    files: [GUEST_FILE],
    disk,
    env,
    timeoutMs: 5 * 60_000,
    signal: plug.signal,
    onConsole: (line) => {
      const match = /^power-cut (\w+) (\{.*\})$/.exec(line.trim());
      if (!match || plug.signal.aborted) return;
      const mark: Mark = { what: match[1], data: JSON.parse(match[2]), hostAt: Date.now() };
      marks.push(mark);
      const delay = scheduled ? undefined : cutAfter?.(mark, marks);
      if (delay === undefined) return;
      scheduled = true;
      setTimeout(() => plug.abort(), delay);
    },
  });
  return { result, marks };
}

test('power cuts at random points during writes: the database stays whole, loses at most the commit interval, and energy never goes back', {
  skip,
  timeout: 30 * 60_000,
}, async (t) => {
  assert.ok(!missing, `CANPLUG_REQUIRE_VCAN=1 but: ${missing}`);
  const dir = mkdtempSync(join(tmpdir(), 'canplug-power-cut-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, '');
  truncateSync(disk, 256 * 1024 * 1024);
  execFileSync('mkfs.ext4', ['-q', '-F', disk], { stdio: 'pipe' });

  let previous: Mark[] = [];
  let midCommit = 0;
  const lostMs: number[] = [];
  for (let cut = 0; cut <= CUTS; cut++) {
    const last = cut === CUTS;
    // Even cuts: a random moment 2-6 s into the writing. Odd cuts: 0-5 ms after a commit starts, in its writes.
    const wait = 2000 + Math.random() * 4000;
    const env = { CANPLUG_POWER_CUT_COMMIT_MS: String(COMMIT_MS), ...(last ? { CANPLUG_POWER_CUT_PHASE: 'check' } : {}) };
    const { result, marks } = await boot(disk, env, (mark, seen) => {
      if (last) return undefined;
      const writingSince = seen.find((m) => m.what === 'writing')?.hostAt;
      if (writingSince === undefined) return undefined;
      if (cut % 2 === 0) return mark.what === 'writing' ? wait : undefined;
      return mark.what === 'flushing' && mark.hostAt - writingSince > 2000 ? Math.random() * 5 : undefined;
    });
    const tail = `\n--- guest console (tail) ---\n${result.console.slice(-3000)}`;
    assert.deepEqual(result.leftover, [], 'no guest process outlives the run');
    if (last) assert.equal(result.status, 0, `the checking boot failed${tail}`);
    else assert.ok(result.cut, `boot ${cut + 1} was not cut (status ${result.status})${tail}`);

    const check = marks.find((m) => m.what === 'check');
    if (cut > 0) {
      assert.ok(check, `boot ${cut + 1} printed no check of the database${tail}`);
      const c = check.data;
      assert.equal(c.integrity, 'ok', `after cut ${cut}: integrity_check`);
      assert.equal(c.energyDown, 0, `after cut ${cut}: a stored energy total went down`);
      assert.equal(c.savedBelowStored, 0, `after cut ${cut}: a saved energy total is below a stored reading`);
      const committed = previous.filter((m) => m.what === 'committed' && m.data.ok);
      const lastCommitted = committed.at(-1)?.data.newest as number | undefined;
      if (lastCommitted)
        assert.ok(
          (c.newest as number) >= lastCommitted,
          `after cut ${cut}: a commit that had returned is missing (newest ${c.newest}, committed ${lastCommitted})`,
        );
      const alive = previous.filter((m) => m.what === 'alive').map((m) => m.data.newest as number);
      assert.ok(alive.length > 0 && committed.length > 0, `boot ${cut} wrote nothing before the cut`);
      const accepted = Math.max(...alive);
      const lost = accepted - (c.newest as number);
      lostMs.push(lost);
      assert.ok(
        lost <= COMMIT_MS + SLACK_MS,
        `after cut ${cut}: readings of the last ${lost} ms lost; the window is ${COMMIT_MS} ms (+${SLACK_MS} ms for the commit itself)`,
      );
      const flushes = previous.filter((m) => m.what === 'flushing' || m.what === 'committed');
      if (flushes.at(-1)?.what === 'flushing') midCommit++;
      t.diagnostic(
        `cut ${cut}: ${c.readings} readings stored, ${lost} ms of readings lost${flushes.at(-1)?.what === 'flushing' ? ' (cut during a commit)' : ''}`,
      );
    }
    previous = marks;
  }
  t.diagnostic(
    `${CUTS} cuts, ${midCommit} of them during a commit; readings lost per cut: ${lostMs.join(', ')} ms (commit interval ${COMMIT_MS} ms)`,
  );
  assert.ok(midCommit > 0, 'at least one cut landed during a commit');
});
