#!/usr/bin/env node
// Compiles src/**/*.ts to dist/ (one JavaScript file per source, same layout, so paths relative to a
// module still point at migrations/, dashboard/ and package.json) and records the sources' hash in
// dist/build.json; bin/canplug.js runs dist/ only while that hash matches src/. Runs on
// `npm install` (prepare) and `npm run build`, and does nothing when dist/ is already a build of
// these sources (so installing a release artifact, which ships dist/, builds nothing). It never
// fails an install: without a build the gateway runs from the sources through tsx. It does fail
// `npm pack`, since a release artifact must not ship without dist/ or with a stale one.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, distIsFresh, sourceHash } from '../bin/source-hash.js';

const SRC = join(ROOT, 'src');
const OUT = join(ROOT, 'dist');

const sources = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : [];
  });

/** Builds dist/ (into a fresh directory, then swapped in: a CLI starting meanwhile never sees half a build). */
export async function buildDist() {
  const { build } = await import('esbuild');
  const hash = sourceHash();
  const entryPoints = sources(SRC);
  const next = `${OUT}.new-${process.pid}`;
  const old = `${OUT}.old-${process.pid}`;
  rmSync(next, { recursive: true, force: true });
  mkdirSync(next, { recursive: true });
  await build({
    entryPoints,
    outdir: next,
    outbase: SRC,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
  writeFileSync(
    join(next, 'build.json'),
    `${JSON.stringify({ sourceHash: hash, files: entryPoints.length, built: new Date().toISOString() }, null, 2)}\n`,
  );
  if (existsSync(OUT)) renameSync(OUT, old);
  renameSync(next, OUT);
  rmSync(old, { recursive: true, force: true });
  return entryPoints.length;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const packing = ['pack', 'publish'].includes(process.env.npm_command ?? '');
  if (distIsFresh()) {
    console.log(`canplug: ${OUT} is up to date (built from these sources; delete it to rebuild)`);
  } else {
    try {
      const files = await buildDist();
      console.log(`canplug: ${files} sources compiled to ${OUT}`);
    } catch (error) {
      if (packing) {
        console.error(`canplug: dist/ could not be built (${error.message}), so it cannot be packed; run "npm ci" first`);
        process.exit(1);
      }
      console.warn(`canplug: dist/ not built (${error.message}); the gateway runs from the TypeScript sources`);
    }
  }
}
