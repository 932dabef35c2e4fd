#!/usr/bin/env node
// Runs the compiled JavaScript in dist/ when it was built from exactly these sources (`npm install`
// builds it: a faster start and about 40 MB less memory than compiling on the fly), else the
// TypeScript sources through tsx's loader, so the installed tool and `npm start` are the same code.
// CANPLUG_FROM_SOURCE=1 always runs the sources.
import { distIsFresh } from './source-hash.js';

if (process.env.CANPLUG_FROM_SOURCE !== '1' && distIsFresh()) {
  await import('../dist/cli.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
