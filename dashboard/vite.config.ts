// The dashboard build: a static single-page app the gateway serves at / (see docs/dashboard.md).
import { defineConfig } from 'vite';

export default defineConfig({
  // Relative URLs: the dashboard also works behind a reverse proxy under a sub-path.
  base: './',
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
