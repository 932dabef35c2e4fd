import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError, EXIT } from '../../src/cli/common.js';
import { buildProgram } from '../../src/cli/program.js';
import { runCli } from '../helpers/cli.js';

/** Runs the program in-process for `--help`, capturing what it prints. */
async function help(args: string[]): Promise<{ code: number; text: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let text = '';
  process.stdout.write = ((chunk: string) => {
    text += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await buildProgram().parseAsync(['node', 'canplug', ...args, '--help']);
    return { code: -1, text };
  } catch (error) {
    assert.ok(error instanceof CliError, String(error));
    return { code: error.exitCode, text };
  } finally {
    process.stdout.write = write;
  }
}

const COMMANDS = [['run'], ['sim'], ['sniff'], ['send'], ['db', 'backup'], ['db', 'prune'], ['config', 'check'], ['token', 'rotate']];

test('every command has --help that exits 0 and documents the exit codes', async () => {
  const top = await help([]);
  assert.equal(top.code, EXIT.ok);
  for (const name of ['run', 'sim', 'sniff', 'send', 'db', 'config', 'token'])
    assert.match(top.text, new RegExp(`^  ${name}\\b`, 'm'), name);
  for (const command of COMMANDS) {
    const { code, text } = await help(command);
    assert.equal(code, EXIT.ok, command.join(' '));
    assert.match(text, new RegExp(`^Usage: canplug ${command.join(' ')}`), command.join(' '));
    assert.match(text, /Exit codes:\n {2}0 {2}success\n {2}1 {2}runtime failure/, `${command.join(' ')} lists the exit codes`);
  }
  assert.match((await help(['send'])).text, /relay on\|off\|toggle/);
  assert.match((await help(['db', 'prune'])).text, /--older-than <age>/);
});

test('as a process: usage errors exit 2 with a message, --version exits 0', async () => {
  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, EXIT.usage);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);

  const badArgument = await runCli(['send', '3', 'relay', 'sideways']);
  assert.equal(badArgument.code, EXIT.usage);
  assert.equal(badArgument.stderr, 'canplug: relay takes one of on, off, toggle; got "sideways"\n');

  const noBus = await runCli(['sniff']);
  assert.equal(noBus.code, EXIT.usage);
  assert.match(noBus.stderr, /needs a CAN interface: pass --interface can0/);

  const version = await runCli(['--version']);
  assert.equal(version.code, EXIT.ok);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});
