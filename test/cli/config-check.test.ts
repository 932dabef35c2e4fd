import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/common.js';
import { runCli } from '../helpers/cli.js';

function tempFile(t: { after: (fn: () => void) => void }, name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('config check on a broken file lists every problem with its key and exits 2', async (t) => {
  const path = tempFile(
    t,
    'broken.yaml',
    `can:
  transport: socketcann
  bitrate: 100000
  sim:
    nodes: [1, 64]
mqtt:
  base_topic: "canplug/#"
http:
  port: 99999
  hots: 0.0.0.0
database:
  retention_days: -1
safety:
  humidity_limit: "high"
`,
  );
  const result = await runCli(['config', 'check', path]);
  assert.equal(result.code, EXIT.usage);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines[0], `canplug: ${path}: 8 problems`);
  const keys = lines.slice(1).map((l) => l.trim().split(':')[0]);
  assert.deepEqual(keys.sort(), [
    'can.bitrate',
    'can.sim.nodes.1',
    'can.transport',
    'database.retention_days',
    'http.hots',
    'http.port',
    'mqtt.base_topic',
    'safety.humidity_limit',
  ]);
  assert.match(result.stderr, /can\.transport: "socketcann" is not allowed; expected one of "sim", "socketcan"/);
  assert.match(result.stderr, /http\.hots: unknown key; allowed keys here: host, port/);
  assert.match(result.stderr, /http\.port: 99999 is not allowed; expected an integer from 0 to 65535/);
});

test('config check passes a good file (exit 0, summary), warns about ignored variables, and reports bad YAML with its line', async (t) => {
  const good = tempFile(
    t,
    'good.yaml',
    'can:\n  transport: socketcan\n  interface: can0\nmqtt:\n  url: mqtt://user:secret@broker.lan:1883\ndatabase:\n  path: /var/lib/canplug/canplug.db\n',
  );
  const ok = await runCli(['config', 'check', good], { env: { CANPLUG_HTTP_PROT: '9090', CANPLUG_HTTP_PORT: '9091' } });
  assert.equal(ok.code, EXIT.ok, ok.stderr);
  assert.match(ok.stdout, new RegExp(`^${good}: OK\n`));
  assert.match(ok.stdout, /can: can0 at 125000 bit\/s, protocol v1/);
  assert.match(ok.stdout, /mqtt: mqtt:\/\/user:\*\*\*@broker\.lan:1883/, 'the password is not printed');
  assert.match(ok.stdout, /http: 127\.0\.0\.1:9091/, 'environment overrides applied, as the daemon would');
  assert.match(ok.stderr, /warning: environment variable CANPLUG_HTTP_PROT is not a config key and is ignored/);

  const yaml = tempFile(t, 'bad.yaml', 'can:\n  transport: sim\n   interface: can0\n');
  const bad = await runCli(['--config', yaml, 'config', 'check']);
  assert.equal(bad.code, EXIT.usage);
  assert.match(bad.stderr, /is not valid YAML at line 2: Nested mappings are not allowed/);
});
