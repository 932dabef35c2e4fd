// Commands on their own: a CanBus on a simulated bus, a peer playing the nodes, and a fake clock for
// the reply timeout. (The REST and MQTT tests cover the same paths through a whole gateway.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Opcode, type Command, type Message } from '../../src/can/codec.js';
import { Commands, MAIN_TOKENS } from '../../src/gateway/commands.js';
import { BusUnavailableError, CommandArgumentError, CommandTimeoutError } from '../../src/gateway/errors.js';
import { fakeClock, settle, unitBus } from '../helpers/unit.js';

const status = { relay: true, humidityLatched: false, powerLatched: false, sensorFault: false };
const reply = (node: number, token: number, op: Command['op'], result: 'ok' | 'interlocked' = 'ok'): Message => ({
  type: 'reply',
  node,
  token,
  opcode: Opcode[op],
  result,
  status,
  detail: 0,
});
const sentCommands = (received: Message[]) => received.filter((m): m is Extract<Message, { type: 'command' }> => m.type === 'command');

test('replies are matched to their commands by token, in whatever order they come back', async (t) => {
  const { can, received, send } = await unitBus(t);
  const commands = new Commands(can, 500);
  commands.start();
  t.after(() => commands.stop());

  const relay = commands.send(3, { op: 'setRelay', action: 'open' });
  const identify = commands.send(3, { op: 'identify', seconds: 5 });
  await settle();
  const [first, second] = sentCommands(received);
  assert.deepEqual(first.command, { op: 'setRelay', action: 'open' });
  assert.notEqual(first.token, second.token, 'two commands in flight to one node carry different tokens');
  send(reply(3, second.token, 'identify', 'interlocked'));
  send(reply(3, first.token, 'setRelay'));
  assert.equal((await relay).result, 'ok');
  assert.equal((await identify).result, 'interlocked');
});

test('a reply with the right token but for another opcode, or from another node, settles nothing', async (t) => {
  const clock = fakeClock(t);
  const { can, received, send } = await unitBus(t);
  const commands = new Commands(can, 500);
  commands.start();
  t.after(() => commands.stop());

  const pending = commands.send(3, { op: 'resetLatch' });
  await settle();
  const [sent] = sentCommands(received);
  send(reply(3, sent.token, 'setRelay'));
  send(reply(4, sent.token, 'resetLatch'));
  await settle();
  clock.advance(500);
  await assert.rejects(pending, CommandTimeoutError);
});

test('no answer: a timeout error after exactly the timeout, and a late reply is ignored', async (t) => {
  const clock = fakeClock(t);
  const { can, received, send } = await unitBus(t);
  const commands = new Commands(can, 500);
  commands.start();
  t.after(() => commands.stop());

  let settled = false;
  const pending = commands.send(7, { op: 'reportNow' });
  pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  await settle();
  clock.advance(499);
  await settle();
  assert.equal(settled, false, 'still waiting 1 ms before the timeout');
  clock.advance(1);
  await assert.rejects(pending, (e) => e instanceof CommandTimeoutError && e.message === 'node 7 did not answer within 500 ms');
  // The node answers late: nothing is left waiting for it, nothing throws.
  send(reply(7, sentCommands(received)[0].token, 'reportNow'));
  await settle();
});

test('a per-call timeout overrides the default', async (t) => {
  const clock = fakeClock(t);
  const { can } = await unitBus(t);
  const commands = new Commands(can, 500);
  commands.start();
  t.after(() => commands.stop());
  const pending = commands.send(7, { op: 'reportNow' }, { timeoutMs: 2000 });
  clock.advance(1999);
  clock.advance(1);
  await assert.rejects(pending, { message: 'node 7 did not answer within 2000 ms' });
});

test('arguments out of range are refused before anything is sent', async (t) => {
  const { can, received } = await unitBus(t);
  const commands = new Commands(can, 500);
  commands.start();
  t.after(() => commands.stop());
  await assert.rejects(
    commands.send(1, { op: 'setHumidityLimit', limit: 60, hysteresis: 60 }),
    (e) => e instanceof CommandArgumentError && e.message === 'hysteresis must be an integer from 0 to 59, got 60',
  );
  await assert.rejects(commands.send(1, { op: 'setReportPeriod', ms: 50 }), CommandArgumentError);
  assert.equal(commands.fire(1, { op: 'setPowerLimit', watts: 70_000 }), false);
  await settle();
  assert.deepEqual(received, []);
});

test('with the bus down a command fails at once as unavailable, and fire() says it was not sent', async (t) => {
  const { can } = await unitBus(t);
  await can.stop();
  const commands = new Commands(can, 500);
  commands.start();
  t.after(() => commands.stop());
  await assert.rejects(commands.send(1, { op: 'reportNow' }), BusUnavailableError);
  assert.equal(commands.fire(1, { op: 'setRelay', action: 'open' }), false);
});

test('tokens count 1..239 per node and wrap to 1; fire() takes its token from the same sequence', async (t) => {
  const { can, received } = await unitBus(t);
  const commands = new Commands(can, 500);
  commands.start();
  t.after(() => commands.stop());
  for (let i = 0; i < MAIN_TOKENS.last + 1; i++) assert.ok(commands.fire(2, { op: 'reportNow' }));
  commands.fire(9, { op: 'reportNow' });
  await settle();
  const tokens = sentCommands(received).map((c) => [c.node, c.token]);
  assert.deepEqual(tokens.slice(0, 2), [
    [2, 1],
    [2, 2],
  ]);
  assert.deepEqual(tokens.slice(MAIN_TOKENS.last - 1), [
    [2, MAIN_TOKENS.last],
    [2, 1],
    [9, 1],
  ]);
});

test('stop() fails every command still waiting, as the gateway shutting down', async (t) => {
  const { can } = await unitBus(t);
  const commands = new Commands(can, 60_000);
  commands.start();
  const pending = [commands.send(1, { op: 'reportNow' }), commands.send(2, { op: 'resetLatch' })];
  commands.stop();
  for (const p of pending) await assert.rejects(p, (e) => e instanceof BusUnavailableError && e.message === 'the gateway is shutting down');
});
