import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hostFiles, MicroPythonVm } from '../helpers/micropython-vm.js';

// The firmware's unittest suite (firmware/tests) under both interpreters, through one driver
// (firmware/tests/run_suite.py) that prints a JSON line per test: Debian's CPython with python3-can,
// and the real MicroPython VM (the official WebAssembly port). Every test that runs under both must
// have the same outcome; what MicroPython cannot run is skipped by the test itself, with its reason,
// and must be one of the skips declared here.
const PYTHON = '/usr/bin/python3';
const firmwareDir = fileURLToPath(new URL('../../firmware', import.meta.url));

/** Tests that need CPython, by id prefix: the host runner (threads, python-can, processes) and the ast check. */
const CPYTHON_ONLY = [
  'tests.test_host_e2e', // the same app runs on the VM in test/firmware/vm-node-in-the-loop.test.ts
  'tests.test_host_runner_cli',
  'tests.test_micropython_compat.MicroPythonCompatTest', // reads the source with ast; DeviceFilesTest runs on both
  'tests.test_ed25519.Sha512Test.test_matches_hashlib', // MicroPython's hashlib has no sha512 to compare with
];

interface Outcome {
  id: string;
  outcome: 'ok' | 'fail' | 'error' | 'skip';
  detail: string;
}
interface SuiteRun {
  results: Outcome[];
  counts: Record<string, number> | undefined;
  /** tests/vector_sweep.py: what the codecs make of every vector and every id x DLC, one line each. */
  sweep: string[];
  output: string;
}

function parse(output: string): SuiteRun {
  const results: Outcome[] = [];
  const sweep: string[] = [];
  let counts: Record<string, number> | undefined;
  for (const line of output.split('\n')) {
    if (line.includes(' -> ') || line.startsWith('sweep done')) sweep.push(line);
    if (!line.startsWith('{')) continue;
    const record = JSON.parse(line) as Outcome & { done?: boolean; counts?: Record<string, number> };
    if (record.done) counts = record.counts;
    else results.push(record);
  }
  return { results, counts, sweep, output };
}

function runCPython(module: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-m', module], { cwd: firmwareDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(output));
  });
}

async function runMicroPython(): Promise<SuiteRun> {
  // Heap: the port grows it as needed; the ESP32-sized budget is checked in vm-node-heap.test.ts.
  const vm = await MicroPythonVm.boot({
    heapBytes: 4 << 20,
    pystackWords: 8192,
    files: hostFiles(firmwareDir, '/firmware'),
    cwd: '/firmware',
  });
  try {
    await vm.exec('import tests.run_suite\ntests.run_suite.main()');
    await vm.exec('import tests.vector_sweep\ntests.vector_sweep.main()');
  } catch (error) {
    vm.lines.push(`driver stopped: ${String(error)}`);
  } finally {
    await vm.kill();
  }
  return parse(vm.lines.join('\n'));
}

const summary = (run: SuiteRun) =>
  `${run.results.length} results, ${Object.entries(run.counts ?? {})
    .map(([k, v]) => `${v} ${k}`)
    .join(', ')}`;
const failures = (run: SuiteRun) =>
  run.results
    .filter((r) => r.outcome === 'fail' || r.outcome === 'error')
    .map((r) => `${r.id}: ${r.detail}`)
    .join('\n\n');

test('firmware unittest suite under CPython and the MicroPython VM, with the same outcome for every test', {
  timeout: 600_000,
}, async (t) => {
  if (!existsSync(PYTHON)) {
    if (process.env.CANPLUG_REQUIRE_PYTHON === '1') assert.fail(`${PYTHON} is missing`);
    t.skip(`${PYTHON} is missing (Debian's python3)`);
    return;
  }
  const [suite, sweep, micropython] = await Promise.all([
    runCPython('tests.run_suite'),
    runCPython('tests.vector_sweep'),
    runMicroPython(),
  ]);
  const cpython = parse(suite + sweep);
  t.diagnostic(`firmware on CPython: ${summary(cpython)}`);
  t.diagnostic(`firmware on MicroPython: ${summary(micropython)}`);

  assert.ok(cpython.counts, `the CPython run did not finish:\n${cpython.output.slice(-4000)}`);
  assert.ok(micropython.counts, `the MicroPython run did not finish:\n${micropython.output.slice(-4000)}`);
  assert.equal(failures(cpython), '', 'CPython failures');
  assert.equal(failures(micropython), '', 'MicroPython failures');
  assert.ok(cpython.counts.ok > 100, `expected the full suite on CPython: ${summary(cpython)}`);
  assert.equal(cpython.counts.skip, 0, 'nothing is skipped on CPython');

  const onMicroPython = new Map(micropython.results.map((r) => [r.id, r]));
  const skipped = micropython.results.filter((r) => r.outcome === 'skip');
  for (const s of skipped) {
    t.diagnostic(`MicroPython skips ${s.id}: ${s.detail}`);
    assert.ok(
      CPYTHON_ONLY.some((prefix) => s.id.startsWith(prefix)),
      `undeclared MicroPython skip ${s.id}: ${s.detail}`,
    );
  }
  for (const r of cpython.results) {
    const other = onMicroPython.get(r.id) ?? skipped.find((s) => r.id.startsWith(`${s.id}.`));
    assert.ok(other, `${r.id} ran on CPython but not on MicroPython`);
    assert.equal(other.outcome, CPYTHON_ONLY.some((prefix) => r.id.startsWith(prefix)) ? 'skip' : r.outcome, r.id);
  }
  const ranOnBoth = cpython.results.filter((r) => onMicroPython.get(r.id)?.outcome === 'ok').length;
  t.diagnostic(`the same outcome under both: ${ranOnBoth} tests; CPython only: ${cpython.results.length - ranOnBoth}`);
  assert.ok(ranOnBoth > 90, `expected most of the suite on MicroPython, got ${ranOnBoth}`);

  // Every vector and every id x DLC: the same message or the same FrameError reason, line by line.
  assert.ok(cpython.sweep.length > 30_000, `the CPython sweep did not run:\n${sweep.slice(-2000)}`);
  const differ = cpython.sweep.filter((line, i) => micropython.sweep[i] !== line);
  t.diagnostic(`codec sweep: ${cpython.sweep.length - 1} frames and vectors, ${differ.length} differ between the interpreters`);
  assert.equal(micropython.sweep.length, cpython.sweep.length, 'the MicroPython sweep ran to the end');
  assert.deepEqual(differ.slice(0, 20), [], 'CPython lines that MicroPython decodes differently');
});
