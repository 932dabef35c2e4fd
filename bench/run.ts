/**
 * The benchmark driver (`npm run bench`, never part of `npm test`).
 *
 *   npm run bench                              every case
 *   npm run bench -- can-mqtt safety           the named cases
 *   npm run bench -- --quick                   short runs, one repetition (a smoke test)
 *   npm run bench -- --runs 5                  repetitions per measurement (median reported; default 3)
 *   npm run bench -- soak --minutes 10         soak length (default 10)
 *   npm run bench -- can-mqtt --cpu-prof DIR   V8 CPU profiles of the gateway processes
 *   npm run bench -- --from-source             gateway processes on the TypeScript sources (tsx) instead of dist/
 *   npm run bench -- --list                    the cases
 *
 * Prints one table and writes bench/results/latest.json (machine, Node, git revision, load).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_NICE, prioritize, type BenchCase, type BenchOptions, type Row } from './lib/bench-case.js';
import { load, machineInfo, revision } from './lib/machine.js';
import { prepareCompiled } from './lib/compiled.js';
import { canMqtt } from './cases/can-mqtt.js';
import { canMqttVcan } from './cases/can-mqtt-vcan.js';
import { commands, safety } from './cases/commands.js';
import { sqlite } from './cases/sqlite.js';
import { rest } from './cases/rest.js';
import { soak } from './cases/soak.js';
import { startup } from './cases/startup.js';
import { storage } from './cases/storage.js';
import { piBudget } from './cases/pi-budget.js';

export const CASES: BenchCase[] = [startup, canMqtt, canMqttVcan, commands, safety, sqlite, rest, soak, storage, piBudget];

function parseArgs(argv: string[]): { names: string[]; options: BenchOptions; list: boolean } {
  const options: BenchOptions = { quick: false, runs: 3, minutes: 10, log: (line) => console.log(line) };
  const names: string[] = [];
  let list = false;
  let runsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--quick') options.quick = true;
    else if (arg === '--runs') [options.runs, runsGiven] = [positive(arg, value()), true];
    else if (arg === '--minutes') options.minutes = positive(arg, value());
    else if (arg === '--cpu-prof') options.cpuProfDir = resolve(value());
    else if (arg === '--list') list = true;
    else if (arg === '--from-source') options.fromSource = true;
    else if (arg.startsWith('-'))
      throw new Error(`unknown option ${arg} (--quick, --runs N, --minutes N, --cpu-prof DIR, --from-source, --list)`);
    else names.push(arg);
  }
  if (options.quick && !runsGiven) options.runs = 1;
  const unknown = names.filter((n) => !CASES.some((c) => c.name === n));
  if (unknown.length) throw new Error(`unknown case ${unknown.join(', ')}; cases: ${CASES.map((c) => c.name).join(', ')}`);
  return { names, options, list };
}

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!(n > 0)) throw new Error(`${name} must be a positive number, got ${text}`);
  return n;
}

function table(rows: Row[]): string {
  const header = ['case', 'scenario', 'result', 'target', 'met'];
  const cells = rows.map((r) => [r.case, r.scenario, r.result, r.target ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { names, options, list } = parseArgs(process.argv.slice(2));
  if (list) {
    for (const c of CASES) console.log(`${c.name.padEnd(14)} ${c.description}`);
    return;
  }
  const selected = names.length ? CASES.filter((c) => names.includes(c.name)) : CASES;
  if (!options.fromSource) console.log(`gateway processes run the compiled code: ${await prepareCompiled()} on dist/`);
  const prioritized = prioritize();
  if (!prioritized)
    console.log(
      `could not raise the benchmark's priority (nice ${BENCH_NICE} needs root): numbers include more of the machine's other work`,
    );
  const started = new Date();
  const loadBefore = load();
  const rows: Row[] = [];
  const cases: Record<string, { ms: number; load_before: number[]; load_after: number[]; error?: string }> = {};
  for (const c of selected) {
    console.log(`== ${c.name}: ${c.description}`);
    const t0 = performance.now();
    const loadAt = load();
    try {
      const got = await c.run(options);
      for (const r of got) r.data = { ...r.data, load: loadAt };
      rows.push(...got);
      cases[c.name] = { ms: Math.round(performance.now() - t0), load_before: loadAt, load_after: load() };
    } catch (error) {
      const message = (error as Error).stack ?? String(error);
      console.error(`${c.name} failed: ${message}`);
      rows.push({ case: c.name, scenario: '(failed)', result: (error as Error).message, met: false, data: {} });
      cases[c.name] = { ms: Math.round(performance.now() - t0), load_before: loadAt, load_after: load(), error: message };
    }
  }
  console.log(`\n${table(rows)}\n`);
  const loadAfter = load();
  console.log(
    `load average ${loadBefore.join(' ')} at the start, ${loadAfter.join(' ')} at the end (1/5/15 min; ${machineInfo().cores} cores)`,
  );
  const out = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(out, { recursive: true });
  const file = `${out}latest.json`;
  const result = {
    date: started.toISOString(),
    node: process.version,
    machine: machineInfo(),
    git: revision(),
    options: {
      quick: options.quick,
      runs: options.runs,
      minutes: options.minutes,
      from_source: options.fromSource ?? false,
      cases: selected.map((c) => c.name),
    },
    load: { before: loadBefore, after: loadAfter },
    nice: prioritized ? BENCH_NICE : null,
    cases,
    rows,
  };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`results: ${file}`);
  process.exitCode = rows.some((r) => r.met === false) ? 1 : 0;
}

await main();
