// Token guessing on the live stream and on protected reads: limited per address like changes, and
// logged (address, never the token) once a minute per address in the line fail2ban matches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket from 'ws';
import { memoryLogger, startGateway, type TestGateway } from '../helpers/gateway.js';

/** Opens the live stream with the given subprotocols; resolves with the close code, or the HTTP status of a refused upgrade. */
async function liveAttempt(tg: TestGateway, protocols: string[]): Promise<number> {
  const ws = new WebSocket(`${tg.gateway.httpUrl().replace(/^http/, 'ws')}/api/live`, protocols);
  return new Promise((resolve) => {
    ws.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('close', (code) => resolve(code));
    ws.on('error', () => {});
  });
}

const FAIL2BAN_LINE = /^authentication failed from (\S+)$/;

test('wrong tokens on the live stream are limited per address (429) and logged for fail2ban without the token', async (t) => {
  const logs = memoryLogger();
  const tg = await startGateway({ http: { rate_limit: 20 } }, undefined, logs.log);
  t.after(() => tg.stop());
  const guesses: string[] = [];
  const outcomes: number[] = [];
  for (let i = 0; i < 60; i++) {
    const guess = `guess-${i}-${'x'.repeat(24)}`;
    guesses.push(guess);
    outcomes.push(await liveAttempt(tg, ['canplug.v1', `bearer.${guess}`]));
  }
  assert.deepEqual(outcomes.slice(0, 20), Array(20).fill(4401), 'the first guesses get the close code');
  assert.deepEqual(outcomes.slice(20), Array(40).fill(429), 'then the address is limited');
  // The right token still gets in: reads with it are never limited, guesses are.
  const right = new WebSocket(`${tg.gateway.httpUrl().replace(/^http/, 'ws')}/api/live`, ['canplug.v1', `bearer.${tg.token}`]);
  const [first] = (await once(right, 'message')) as [Buffer];
  assert.equal(JSON.parse(first.toString()).type, 'snapshot');
  right.close();

  const lines = logs.lines().filter((l) => FAIL2BAN_LINE.test(String(l.msg)));
  assert.equal(lines.length, 1, 'one line per address per minute');
  assert.equal(FAIL2BAN_LINE.exec(String(lines[0].msg))![1], '127.0.0.1');
  assert.equal(lines[0].remote, '127.0.0.1');
  assert.equal(lines[0].where, 'live stream');
  const everything = JSON.stringify(logs.lines());
  for (const guess of [...guesses, tg.token]) assert.ok(!everything.includes(guess), 'no token in the log');
  assert.ok(logs.lines().some((l) => l.msg === 'rate limit reached by 127.0.0.1'));

  const health = (await tg.gateway.parts.api.inject({ url: '/api/health' })).json();
  assert.equal(health.http.auth_failures, 20);
  assert.equal(health.http.rate_limited, 40);
  const metrics = await tg.gateway.parts.metrics.text();
  assert.match(metrics, /canplug_http_auth_failures_total 20/);
});

test('wrong tokens on protected reads count too; right tokens and missing ones do not', async (t) => {
  const logs = memoryLogger();
  const tg = await startGateway({ http: { read_protection: true, rate_limit: 5 } }, undefined, logs.log);
  t.after(() => tg.stop());
  const { api } = tg.gateway.parts;
  // Reads with the token and reads without one (a wall tablet not set up yet) are not guesses.
  for (let i = 0; i < 20; i++) {
    assert.equal((await api.inject({ url: '/api/devices', headers: tg.auth })).statusCode, 200);
    assert.equal((await api.inject({ url: '/api/devices' })).statusCode, 401);
  }
  const codes: number[] = [];
  for (let i = 0; i < 8; i++)
    codes.push((await api.inject({ url: '/api/devices', headers: { authorization: `Bearer wrong-${i}` } })).statusCode);
  assert.deepEqual(codes, [401, 401, 401, 401, 401, 429, 429, 429]);
  const lines = logs.lines().filter((l) => FAIL2BAN_LINE.test(String(l.msg)));
  assert.equal(lines.length, 1);
  assert.equal(lines[0].where, 'rest');
  assert.equal(lines[0].path, '/api/devices');
  assert.equal(tg.gateway.parts.http.authFailures.total, 5);
  // Public reads ignore a stale token, as before: nothing to guess there.
  const open = await startGateway({ http: { rate_limit: 5 } });
  t.after(() => open.stop());
  for (let i = 0; i < 10; i++)
    assert.equal(
      (await open.gateway.parts.api.inject({ url: '/api/devices', headers: { authorization: 'Bearer stale' } })).statusCode,
      200,
    );
});

test('a live stream with the right token is not limited', async (t) => {
  const tg = await startGateway({ http: { rate_limit: 3 } });
  t.after(() => tg.stop());
  for (let i = 0; i < 6; i++) {
    const ws = new WebSocket(`${tg.gateway.httpUrl().replace(/^http/, 'ws')}/api/live`, ['canplug.v1', `bearer.${tg.token}`]);
    const [data] = (await once(ws, 'message')) as [Buffer];
    assert.equal(JSON.parse(data.toString()).type, 'snapshot');
    ws.close();
  }
  assert.equal(tg.gateway.parts.http.authFailures.total, 0);
});
