#!/usr/bin/env node
// npm postinstall: applies patches/socketcan+4.0.7.patch (receive queue size, the kernel's drop
// count SO_RXQ_OVFL, channels usable from worker threads) with patch-package, then rebuilds the addon
// when the built one lacks it or carries an older level of it.
// socketcan is an optional dependency: when npm skipped it, or its native build fails here, the
// install goes on and the SocketCAN transport says at start what is missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addonDir = join(root, 'node_modules', 'socketcan');
const require = createRequire(join(root, 'package.json'));

if (!existsSync(join(addonDir, 'package.json'))) {
  console.log('patch-socketcan: the optional socketcan package is not installed; nothing to patch');
  process.exit(0);
}

const run = (command, args, cwd) => spawnSync(command, args, { cwd, stdio: 'inherit', env: process.env }).status;

// patch-package: applies what is not applied yet, and fails when the patch no longer fits the installed version.
if (run(process.execPath, [require.resolve('patch-package/index.js')], root) !== 0) {
  console.error('patch-socketcan: patches/socketcan+4.0.7.patch did not apply (is socketcan still 4.0.7?)');
  process.exit(1);
}

/** The patch level src/can/socketcan-transport.ts requires (SOCKETCAN_PATCH_LEVEL). */
const PATCH_LEVEL = 3;

/** Whether the built addon carries this level of the patch: asked in a child, so nothing stays loaded here. */
function builtWithPatch() {
  const probe = `const c = require('./build/Release/can.node'); process.exit((c.canplugPatch ?? 0) >= ${PATCH_LEVEL} ? 0 : 1)`;
  return spawnSync(process.execPath, ['-e', probe], { cwd: addonDir, stdio: 'ignore' }).status === 0;
}

if (builtWithPatch()) process.exit(0);
// npm runs lifecycle scripts with its own node-gyp in npm_config_node_gyp; socketcan depends on node-gyp as well.
const nodeGyp = process.env.npm_config_node_gyp ?? require.resolve('node-gyp/bin/node-gyp.js');
console.log('patch-socketcan: rebuilding the socketcan addon with the patch');
if (run(process.execPath, [nodeGyp, 'rebuild'], addonDir) !== 0 || !builtWithPatch()) {
  console.warn(
    'patch-socketcan: the socketcan addon did not build; the simulated bus works, SocketCAN needs python3, make and g++ (then npm install again)',
  );
}
