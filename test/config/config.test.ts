import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig, redactConfig } from '../../src/config/config.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail('expected a ConfigError');
}

test('no file gives the embedded demo defaults', () => {
  const config = parseConfig({});
  assert.equal(config.can.transport, 'sim');
  assert.equal(config.can.protocol, 'v1');
  assert.equal(config.mqtt.url, '');
  assert.equal(config.mqtt.base_topic, 'canplug');
  assert.equal(config.http.host, '127.0.0.1');
  assert.equal(config.http.port, 8080);
  assert.equal(config.udp.port, 2390);
  assert.equal(config.safety.humidity_limit, 80);
  assert.equal(config.safety.humidity_hysteresis, 10);
});

test('a bad value names the key, the value and what is allowed', () => {
  const problems = problemsOf(() => parseConfig({ can: { transport: 'sokcetcan' } }));
  assert.deepEqual(problems, ['can.transport: "sokcetcan" is not allowed; expected one of "sim", "socketcan"']);
});

test('every problem is reported at once', () => {
  const problems = problemsOf(() =>
    parseConfig({ can: { bitrate: 100000 }, http: { port: 70000 }, safety: { humidity_limit: 'high' }, mqtt: { base_topic: 'a/b' } }),
  );
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('can.bitrate: 100000 is not allowed; expected one of 125000, 250000, 500000, 1000000')));
  assert.ok(problems.some((p) => p.startsWith('http.port: 70000 is not allowed; expected an integer from 0 to 65535')));
  assert.ok(problems.some((p) => p.startsWith('safety.humidity_limit: "high" is not allowed; expected an integer from 1 to 100')));
  assert.ok(problems.some((p) => p.startsWith('mqtt.base_topic: "a/b"')));
});

test('an unknown key is refused, naming the keys that are allowed', () => {
  const problems = problemsOf(() => parseConfig({ http: { prot: 9090 }, colour: 'blue' }));
  assert.ok(
    problems.some((p) => p.startsWith('http.prot: unknown key; allowed keys here: host, port')),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => p.startsWith('colour: unknown key')),
    problems.join('\n'),
  );
});

test('environment variables override the file, typed by the schema', () => {
  const config = parseConfig(
    { http: { port: 8081 } },
    { CANPLUG_HTTP_PORT: '9090', CANPLUG_CAN_TRANSPORT: 'socketcan', CANPLUG_CAN_SIM_NODES: '4,5', CANPLUG_CAN_BITRATE: '500000' },
  );
  assert.equal(config.http.port, 9090);
  assert.equal(config.can.transport, 'socketcan');
  assert.deepEqual(config.can.sim.nodes, [4, 5]);
  assert.equal(config.can.bitrate, 500000);
});

test('a bad environment value is reported with its key', () => {
  const problems = problemsOf(() => parseConfig({}, { CANPLUG_HTTP_PORT: 'eighty' }));
  assert.deepEqual(problems, ['http.port: "eighty" is not allowed; expected an integer from 0 to 65535']);
});

test('a YAML file is read, and broken YAML is refused with its line, never replaced by defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-config-'));
  const good = join(dir, 'good.yaml');
  writeFileSync(good, 'can:\n  transport: sim\nhttp:\n  port: 9999\n');
  assert.equal(loadConfig({ path: good, env: {} }).config.http.port, 9999);
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, 'can:\n  transport: sim\n http: [\n');
  const problems = problemsOf(() => loadConfig({ path: broken, env: {} }));
  assert.match(problems[0], /broken\.yaml is not valid YAML at line \d/);
  const missing = problemsOf(() => loadConfig({ path: join(dir, 'nope.yaml'), env: {} }));
  assert.match(missing[0], /cannot read .*nope\.yaml/);
});

test('secrets are redacted from the config summary', () => {
  const config = parseConfig({ mqtt: { url: 'mqtt://user:hunter2@broker:1883', password: 'hunter2', key: '/etc/key.pem' } });
  const text = JSON.stringify(redactConfig(config));
  assert.ok(!text.includes('hunter2'), text);
});

test('docs/configuration.md is generated from the current schema (run npm run docs:config)', async () => {
  const { readFileSync } = await import('node:fs');
  const { renderConfigDoc } = await import('../../src/config/config-doc.js');
  assert.equal(readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8'), renderConfigDoc());
});
