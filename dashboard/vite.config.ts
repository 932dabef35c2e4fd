// The dashboard build: a static single-page app the gateway serves at / (see docs/dashboard.md).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? filesUnder(join(dir, name)) : [join(dir, name)]));
}

/**
 * Emits sw.js (from service-worker.js) with the list of every file the build writes and a version
 * hashed from their contents: the offline shell keeps exactly this build, and a new build replaces it.
 */
function serviceWorker(): Plugin {
  return {
    name: 'canplug-service-worker',
    apply: 'build',
    generateBundle(_options, bundle) {
      const publicDir = join(here, 'public');
      const files = new Map<string, string | Uint8Array>();
      for (const path of filesUnder(publicDir)) files.set(relative(publicDir, path).split('\\').join('/'), readFileSync(path));
      for (const [name, chunk] of Object.entries(bundle)) files.set(name, chunk.type === 'chunk' ? chunk.code : chunk.source);
      files.delete('index.html'); // kept as './', the address the page is opened at
      const names = [...files.keys()].sort();
      const hash = createHash('sha256');
      for (const name of names) hash.update(name).update(files.get(name)!);
      const shell = ['./', ...names.map((n) => `./${n}`)];
      const source = readFileSync(join(here, 'service-worker.js'), 'utf8')
        .replace('self.__SHELL__', JSON.stringify(shell))
        .replace('self.__VERSION__', JSON.stringify(hash.digest('hex').slice(0, 12)));
      this.emitFile({ type: 'asset', fileName: 'sw.js', source });
    },
  };
}

export default defineConfig({
  // Relative URLs: the dashboard also works behind a reverse proxy under a sub-path.
  base: './',
  plugins: [serviceWorker()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    // The Pi serves it from its own disk: one small bundle, no source maps shipped.
    sourcemap: false,
    chunkSizeWarningLimit: 200,
  },
  server: {
    // `npx vite dashboard` against a gateway running on 8080.
    proxy: { '/api': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});
