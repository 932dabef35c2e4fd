/**
 * The gateway runs in the benchmarks as users run it: the compiled JavaScript in dist/ (what
 * bin/canplug.js starts), not the TypeScript sources through tsx's loader, whose compiler and
 * worker thread would add about 40 MB and some CPU to every number. `prepareCompiled()` builds
 * dist/ if it is stale and bundles the bench child with its src/ imports pointing into dist/.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { distIsFresh, ROOT } from '../../bin/source-hash.js';
import { buildDist } from '../../scripts/build-dist.mjs';

let compiledChild: string | undefined;

/** The compiled child script, once `prepareCompiled()` has run. */
export function childScript(): string | undefined {
  return compiledChild;
}

export async function prepareCompiled(): Promise<string> {
  if (compiledChild) return compiledChild;
  if (!distIsFresh()) await buildDist();
  const outfile = join(mkdtempSync(join(tmpdir(), 'canplug-bench-child-')), 'gateway-child.mjs');
  const dist = join(ROOT, 'dist');
  await build({
    entryPoints: [join(ROOT, 'bench', 'lib', 'gateway-child.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    plugins: [
      {
        name: 'src-from-dist',
        setup(b) {
          // ../../src/x/y.js -> file:///<repo>/dist/x/y.js, left external: the gateway's own modules, compiled.
          b.onResolve({ filter: /\/src\/.*\.js$/ }, (args) => ({
            path: pathToFileURL(join(dist, args.path.slice(args.path.lastIndexOf('/src/') + 5))).href,
            external: true,
          }));
        },
      },
    ],
  });
  compiledChild = outfile;
  return outfile;
}
