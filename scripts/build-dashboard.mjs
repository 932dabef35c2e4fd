#!/usr/bin/env node
// Builds the dashboard (dashboard/ -> dashboard/dist) with Vite. Runs on `npm install` (prepare).
// Without Vite (an install with --omit=dev, as of a release artifact, which ships the build) it keeps
// an existing build, or says how to get one; it never fails an install: the gateway runs without a
// dashboard and says so at /. `npm pack` fails instead: a release artifact must carry the dashboard.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'dashboard');
const outDir = process.argv[2] ?? join(root, 'dist');

let vite;
try {
  vite = await import('vite');
} catch {
  if (!existsSync(join(outDir, 'index.html'))) {
    const packing = ['pack', 'publish'].includes(process.env.npm_command ?? '');
    const why = 'Vite is not installed (npm install --omit=dev?), so the dashboard is not built';
    if (packing) {
      console.error(`canplug: ${why} and cannot be packed; run "npm ci" first`);
      process.exit(1);
    }
    console.warn(`canplug: ${why}; run "npm install" with dev dependencies, then "npm run build:dashboard".`);
  }
  process.exit(0);
}
await vite.build({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
console.log(`canplug: dashboard built in ${outDir}`);
