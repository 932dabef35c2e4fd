/**
 * Start-up: `node bin/canplug.js run` (the installed command, TypeScript loader included) from
 * spawn to the "canplug ready" log line, and Gateway.start() alone in a process that has already
 * loaded the code (the `ms` of that log line). Simulated sockets, embedded broker, a fresh database.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTempDir, type BenchCase, type Row } from '../lib/bench-case.js';
import { median, round } from '../lib/stats.js';

const BIN = fileURLToPath(new URL('../../bin/canplug.js', import.meta.url));

interface Startup {
  /** Spawn to the ready line. */
  processMs: number;
  /** Gateway.start(), as the ready line reports it. */
  startMs: number;
}

function startOnce(dir: string): Promise<Startup> {
  const configFile = join(dir, 'canplug.yaml');
  writeFileSync(
    configFile,
    [
      'can: { transport: sim, sim: { nodes: [1, 2, 3] } }',
      'mqtt: { embedded_port: 0 }',
      'http: { port: 0 }',
      `database: { path: ${JSON.stringify(join(dir, `canplug-${Date.now()}.db`))} }`,
      'udp: { port: 0 }',
      'log: { level: info }',
      '',
    ].join('\n'),
  );
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, '--config', configFile, 'run'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no "canplug ready" within 30 s: ${err || out}`));
    }, 30_000);
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.includes('"canplug ready"'));
      if (!line || ready) return;
      ready = true;
      const processMs = performance.now() - t0;
      clearTimeout(timer);
      child.once('exit', () => resolve({ processMs, startMs: (JSON.parse(line) as { ms: number }).ms }));
      child.kill('SIGTERM');
    });
    child.once('exit', (code) => {
      if (ready) return;
      clearTimeout(timer);
      reject(new Error(`canplug run exited (${code}) before it was ready: ${(err || out).slice(-2000)}`));
    });
  });
}

export const startup: BenchCase = {
  name: 'startup',
  description: 'node bin/canplug.js run to "canplug ready", and Gateway.start() alone',
  run: (options) =>
    withTempDir(async (dir) => {
      const runs: Startup[] = [];
      const count = options.quick ? 2 : Math.max(5, options.runs);
      for (let i = 0; i < count; i++) {
        const r = await startOnce(dir);
        options.log(`  run ${i + 1}: ready ${Math.round(r.processMs)} ms after spawn (Gateway.start ${r.startMs} ms)`);
        runs.push(r);
      }
      const processMs = round(median(runs.map((r) => r.processMs)));
      const startMs = round(median(runs.map((r) => r.startMs)));
      const rows: Row[] = [
        {
          case: 'startup',
          scenario: 'node bin/canplug.js run -> "canplug ready"',
          result: `${processMs} ms (median of ${count})`,
          target: '< 1,500 ms',
          met: processMs < 1500,
          data: { processMs, runs },
        },
        {
          case: 'startup',
          scenario: 'Gateway.start() (code already loaded)',
          result: `${startMs} ms (median of ${count})`,
          data: { startMs },
        },
      ];
      return rows;
    }),
};
