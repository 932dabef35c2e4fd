#!/usr/bin/env node
// Runs the TypeScript sources through tsx's loader, so the installed tool and `npm start` are the same code.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
