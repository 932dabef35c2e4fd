import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The firmware's host tests (unittest, Debian's Python with python3-can), reported into npm test.
const PYTHON = '/usr/bin/python3';
const firmwareDir = fileURLToPath(new URL('../../firmware', import.meta.url));

test('firmware unittest suite (driver, sensors, behaviour, vectors, app on a virtual bus)', { timeout: 600_000 }, (t) => {
  if (!existsSync(PYTHON)) {
    if (process.env.CANPLUG_REQUIRE_PYTHON === '1') assert.fail(`${PYTHON} is missing`);
    t.skip(`${PYTHON} is missing (Debian's python3)`);
    return;
  }
  const run = spawnSync(PYTHON, ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'], {
    cwd: firmwareDir,
    encoding: 'utf8',
    timeout: 540_000,
  });
  const output = `${run.stdout}${run.stderr}`;
  const ran = /Ran (\d+) tests?/.exec(output);
  t.diagnostic(ran ? `firmware: ${ran[0]}` : 'firmware: no test count');
  assert.equal(run.status, 0, `firmware unittest failed:\n${output.slice(-6000)}`);
  assert.ok(ran && Number(ran[1]) > 50, `expected the full firmware suite to run:\n${output.slice(-2000)}`);
});
